"""Why a slot plays what it plays, and why a campaign is not playing at a given time.

Answers carry stable reason codes (for the portal and tests) and one sentence per reason in
English and Chinese (for people). Codes for absence, checked in this order:
``screen_off``, ``not_targeted``, ``outside_flight``, ``rrule_excluded``, ``outside_daypart``,
``no_valid_items``, ``preempted_by_emergency``, ``frequency_capped`` (its hourly cap, not its
booking, sets its rate) or else ``sold_out``, ``cap_reached``; when none applies the campaign
is ``playing`` at that instant or ``between_plays`` (with its next play).
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict

from schedules.bilingual import TextTable
from schedules.engine import ScheduleEngine, engine_for
from schedules.errors import ScheduleError
from schedules.loop import effective_duration
from schedules.model import Campaign, Catalogue, ItemKind, Priority, Screen, Slot, SlotSource
from schedules.segments import Placed, Timeline
from schedules.timeline import is_on
from schedules.wallclock import (
    campaign_active_on,
    campaign_intervals,
    contains,
    hour_start,
    require_aware,
    rrule_allows,
    zone,
)

_TEXT = TextTable({
    "screen_off": (
        "该屏幕此时处于关闭状态（营业时间外或节假日）。",
        "The screen is off at this time (operating hours or holiday).",
    ),
    "not_targeted": (
        "该广告活动未投放到此屏幕（{detail}）。",
        "The campaign does not target this screen ({detail}).",
    ),
    "outside_flight": (
        "{date} 不在投放期 {detail} 内。",
        "{date} is outside the flight {detail}.",
    ),
    "rrule_excluded": (
        "重复规则 {detail} 不包含 {date}。",
        "The recurrence rule {detail} excludes {date}.",
    ),
    "outside_daypart": (
        "{time} 不在预订时段 {detail} 内。",
        "{time} is outside the booked dayparts {detail}.",
    ),
    "no_valid_items": (
        "其内容均不适用于 {detail} 屏幕。",
        "None of its items may play on a {detail} screen.",
    ),
    "preempted_by_emergency": (
        "紧急公告 {detail} 优先于所有其他内容。",
        "Emergency announcement {detail} preempts all other content.",
    ),
    "sold_out": (
        "此处广告时段已售罄：预订按 {detail} 比例缩减。",
        "Ad time here is sold out: bookings were scaled to {detail} of what was requested.",
    ),
    "cap_reached": (
        "本小时已达到每小时 {detail} 次的频次上限。",
        "Its frequency cap of {detail} plays per hour is reached for this hour.",
    ),
    "frequency_capped": (
        "其每小时 {detail} 次的频次上限决定了播放频率（仅按预订会播放得更多）。",
        "Its frequency cap of {detail} plays per hour sets how often it plays "
        "(its booking alone would give more).",
    ),
    "playing": (
        "正在播放（{detail}）。",
        "It is playing now ({detail}).",
    ),
    "between_plays": (
        "已在此投放，下次播放时间 {detail}。",
        "It is booked here and plays again at {detail}.",
    ),
    "emergency": (
        "紧急公告 {detail} 生效期间优先于所有内容。",
        "Emergency announcement {detail} preempts everything while it is active.",
    ),
    "announcement": (
        "社区公告 {detail} 正在生效并投放到此屏幕。",
        "Community announcement {detail} is active and targets this screen.",
    ),
    "important": (
        "该公告标记为重要，获得双倍轮播时间。",
        "It is marked important, so it gets twice the loop time.",
    ),
    "campaign": (
        "广告活动 {detail} 此时已在此屏幕投放。",
        "Campaign {detail} is booked on this screen now.",
    ),
    "booked_share": (
        "其预订了 {detail} 的轮播时间。",
        "It booked {detail} of loop time.",
    ),
    "filler": (
        "此时段无预订内容，播放填充内容。",
        "Nothing is booked for this time, so filler content plays.",
    ),
    "replaced_cap": (
        "广告活动 {detail} 已达每小时上限，由填充内容替代。",
        "Filler replaces campaign {detail}, whose hourly cap is reached.",
    ),
    "replaced_separation": (
        "为避免同一广告主或竞争品类相邻，广告活动 {detail} 由填充内容替代。",
        "Filler keeps campaign {detail} from playing right after the same advertiser or a competitor.",
    ),
    "not_in_timeline": (
        "该时段不在此屏幕的计算排期中（实际播放 {detail}）。",
        "This slot is not in the screen's computed timeline (it plays {detail}).",
    ),
})


class Reason(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    zh: str
    en: str


class Explanation(BaseModel):
    """Reasons in order of importance; ``codes`` repeats their codes for quick checks."""

    model_config = ConfigDict(frozen=True)

    screen_id: str
    at: dt.datetime
    subject: str  # the item or campaign being explained
    codes: tuple[str, ...]
    reasons: tuple[Reason, ...]

    def text(self, lang: str = "en") -> str:
        return " ".join(r.zh if lang.startswith("zh") else r.en for r in self.reasons)


def _reason(code: str, **fmt: str) -> Reason:
    fmt.setdefault("detail", "")
    text = _TEXT.both(code, **fmt)
    return Reason(code=code, zh=text.zh, en=text.en)


def _explanation(screen: Screen, at: dt.datetime, subject: str, reasons: list[Reason]) -> Explanation:
    return Explanation(
        screen_id=screen.id,
        at=at,
        subject=subject,
        codes=tuple(r.code for r in reasons),
        reasons=tuple(reasons),
    )


def _hour_timeline(engine: ScheduleEngine, screen: Screen, at: dt.datetime) -> Timeline:
    h = hour_start(at, screen.timezone)
    return engine.timeline(screen, h, h + dt.timedelta(hours=1, minutes=1))


def _share_text(c: Campaign) -> str:
    return f"{c.share_percent:g}%" if c.share_percent is not None else f"{c.plays_per_hour} plays/hour"


def explain_slot(screen: Screen, catalogue: Catalogue, slot: Slot) -> Explanation:
    """Why ``slot`` plays what it plays on ``screen``."""
    engine = engine_for(catalogue)
    at = require_aware(slot.start, "start")
    placed = _hour_timeline(engine, screen, at).placed_at(at)
    reasons: list[Reason] = []
    if placed is None:
        reasons.append(_reason("screen_off"))
        return _explanation(screen, at, slot.item_id, reasons)
    e = placed.entry
    if (e.item_id, e.source, e.source_id) != (slot.item_id, slot.source, slot.source_id):
        item = catalogue.items.get(e.item_id)
        shown = _quoted(item.title) if item and item.title else e.item_id
        reasons.append(_reason("not_in_timeline", detail=shown))
    if e.source is SlotSource.EMERGENCY:
        reasons.append(_reason("emergency", detail=_announcement_name(catalogue, e.source_id)))
    elif e.source is SlotSource.ANNOUNCEMENT:
        reasons.append(_reason("announcement", detail=_announcement_name(catalogue, e.source_id)))
        ann = next(a for a in engine.announcements if a.id == e.source_id)
        if ann.priority is Priority.IMPORTANT:
            reasons.append(_reason("important"))
    elif e.source is SlotSource.CAMPAIGN:
        c = next(c for c in engine.campaigns if c.id == e.source_id)
        reasons.append(_reason("campaign", detail=_quoted(c.name or c.id)))
        reasons.append(_reason("booked_share", detail=_share_text(c)))
        loop = _hour_timeline(engine, screen, at).segments_all()[placed.segment].loop
        plan = next((p for p in loop.ads if p.campaign_id == c.id), None)
        if plan is not None and plan.cap_bound:
            reasons.append(_reason("frequency_capped", detail=str(plan.cap)))
    else:
        if placed.replaced == "cap_reached":
            reasons.append(_reason("replaced_cap", detail=_replaced_id(placed, catalogue)))
        elif placed.replaced == "separation":
            reasons.append(_reason("replaced_separation", detail=_replaced_id(placed, catalogue)))
        else:
            reasons.append(_reason("filler"))
    return _explanation(screen, at, slot.item_id, reasons)


def _replaced_id(placed: Placed, catalogue: Catalogue) -> str:
    c = next((c for c in catalogue.campaigns if c.id == placed.replaced_id), None)
    return _quoted(c.name if c is not None and c.name else str(placed.replaced_id))


def _quoted(name: str) -> str:
    """A name as the sentences quote it: 「…」 reads in both languages."""
    return f"「{name}」"


def _announcement_name(catalogue: Catalogue, announcement_id: str | None) -> str:
    """An announcement as people know it: its title (its text slide's, else its first item's)."""
    ann = next((a for a in catalogue.announcements if a.id == announcement_id), None)
    items = [catalogue.items[i] for i in (ann.item_ids if ann else ()) if i in catalogue.items]
    titled = [i for i in items if i.kind is ItemKind.TEXT and i.title] or [i for i in items if i.title]
    return _quoted(titled[0].title if titled else str(announcement_id))


def explain_absence(screen: Screen, catalogue: Catalogue, campaign_id: str, at: dt.datetime) -> Explanation:
    """Why campaign ``campaign_id`` is (or is not) playing on ``screen`` at ``at``."""
    engine = engine_for(catalogue)
    at = require_aware(at, "at")
    rule = engine.campaign_rule(campaign_id)
    if rule is None:
        raise ScheduleError("campaign_id", f"unknown campaign {campaign_id!r}")
    c = engine.campaigns[rule - len(engine.announcements)]
    tz = zone(screen.timezone)
    local = at.astimezone(tz)
    reasons: list[Reason] = []
    if not is_on(screen, at):
        reasons.append(_reason("screen_off"))
    if rule not in engine.eligible(screen):
        reasons.append(_reason("not_targeted", detail=_targeting_text(c)))
    day = local.date()
    in_window = contains(
        campaign_intervals(c, screen.timezone, at - dt.timedelta(days=2), at + dt.timedelta(days=2)), at
    )
    if not c.flight_start <= day <= c.flight_end:
        reasons.append(
            _reason(
                "outside_flight",
                date=day.isoformat(),
                detail=f"{c.flight_start.isoformat()}..{c.flight_end.isoformat()}",
            )
        )
    elif not rrule_allows(c, local) and not in_window:
        # an hourly rule that allows the day excludes this hour: say which one
        when = f"{day.isoformat()} {local:%H}:00" if campaign_active_on(c, day) else day.isoformat()
        reasons.append(_reason("rrule_excluded", date=when, detail=repr(c.rrule)))
    elif not in_window:
        parts = ", ".join(f"{sorted(d.weekdays)} {d.start:%H:%M}-{d.end:%H:%M}" for d in c.dayparts)
        reasons.append(_reason("outside_daypart", time=f"{local:%a %H:%M}", detail=parts))
    rules = engine.rules_for_screen(screen)
    if all(
        effective_duration(catalogue.items[i], screen.screen_class, screen.orientation, rules.min_dwell_s)
        is None
        for i in c.item_ids
    ):
        reasons.append(
            _reason("no_valid_items", detail=f"{screen.screen_class.value}/{screen.orientation.value}")
        )
    if reasons:
        return _explanation(screen, at, campaign_id, reasons)

    tl = _hour_timeline(engine, screen, at)
    placed = tl.placed_at(at)
    assert placed is not None  # on, targeted and in window: the hour has slots
    loop = tl.segments_all()[placed.segment].loop
    if loop.emergency:
        return _explanation(
            screen, at, campaign_id,
            [_reason("preempted_by_emergency", detail=_announcement_name(catalogue, placed.entry.source_id))],
        )
    if placed.entry.source_id == campaign_id and placed.entry.source is SlotSource.CAMPAIGN:
        item = catalogue.items.get(placed.entry.item_id)
        shown = _quoted(item.title) if item is not None and item.title else placed.entry.item_id
        return _explanation(screen, at, campaign_id, [_reason("playing", detail=shown)])
    plan = next((p for p in loop.ads if p.campaign_id == campaign_id), None)
    plays_before = 0
    next_play: dt.datetime | None = None
    for p in tl.expand(0):
        if p.entry.source_id == campaign_id and p.entry.source is SlotSource.CAMPAIGN:
            if p.start < at:
                if p.start >= hour_start(at, screen.timezone):
                    plays_before += 1
            elif next_play is None:
                next_play = p.start
    if plan is not None and plan.cap_bound:  # the cap, not the sell-out, sets its rate
        reasons.append(_reason("frequency_capped", detail=str(plan.cap)))
    elif loop.scale < 1.0 - 1e-9:
        reasons.append(_reason("sold_out", detail=f"{loop.scale:.0%}"))
    if plan is not None and plan.cap is not None and plays_before >= plan.cap:
        reasons.append(_reason("cap_reached", detail=str(plan.cap)))
    if not reasons or (next_play is not None and not any(r.code == "cap_reached" for r in reasons)):
        when = "later" if next_play is None else next_play.astimezone(tz).strftime("%H:%M:%S")
        reasons.append(_reason("between_plays", detail=when))
    return _explanation(screen, at, campaign_id, reasons)


def _targeting_text(c: Campaign) -> str:
    t = c.targeting
    parts = []
    if t.screen_classes:
        parts.append("classes " + ", ".join(sorted(x.value for x in t.screen_classes)))
    if t.groups:
        parts.append("groups " + ", ".join(sorted(t.groups)))
    if t.screen_ids:
        parts.append(f"{len(t.screen_ids)} listed screens")
    if t.tag_expr:
        parts.append(f"tags {t.tag_expr}")
    return "; ".join(parts) or "no criteria"
