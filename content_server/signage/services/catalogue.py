"""Turning rows into the scheduling engine's model: items, announcements, campaigns, catalogues."""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from content_server.signage import scheduling
from content_server.signage.models import AnnouncementRow, CampaignRow, HouseRulesRow, Media
from content_server.signage.scopes import LIVE_ANNOUNCEMENT_STATES, LIVE_CAMPAIGN_STATES
from schedules.model import (
    DEFAULT_HOUSE_RULES,
    Announcement,
    Campaign,
    Catalogue,
    ContentItem,
    Daypart,
    HouseRules,
    HouseRulesOverride,
    ItemKind,
    Orientation,
    Priority,
    Screen,
    ScreenClass,
    Targeting,
    screen_house_rules,
)

log = logging.getLogger(__name__)


def media_item_id(media_id: str) -> str:
    return f"m-{media_id}"


def text_item_id(announcement_id: str) -> str:
    return f"a-{announcement_id}"


def media_items(group: Sequence[Media], size: ScreenSize | None = None) -> list[ContentItem]:
    """Items for pictures or videos that stand in for one another (an announcement's, a campaign's,
    the community's filler slides).

    When the group holds both a landscape and a portrait one, each plays only on screens of its
    own shape (no letterboxing); otherwise every screen plays every one. Of pictures drawn as
    variants of one slide for several screen shapes, a screen of ``size`` gets only the nearest.
    """
    group = nearest_variants(group, size)
    shapes = [picture_orientations(m) for m in group]
    by_shape = frozenset().union(*shapes) == frozenset(Orientation)
    return [
        live_item(m)
        if m.url is not None
        else ContentItem(
            id=media_item_id(m.id),
            kind=ItemKind.VIDEO if m.kind == "video" else ItemKind.IMAGE,
            duration_s=max(0.1, min(m.duration_s, 3600.0)),
            asset_sha256=m.sha256,
            title=m.title,
            orientations=shape if by_shape else frozenset(Orientation),
            screen_classes=suited_classes(m),
        )
        for m, shape in zip(group, shapes, strict=True)
    ]


def live_item(m: Media) -> ContentItem:
    """A web page or live stream: its address instead of a file, on screens of every shape."""
    return ContentItem(
        id=media_item_id(m.id),
        kind=ItemKind(m.kind),
        duration_s=max(0.1, min(m.duration_s, 3600.0)),
        title=m.title,
        url=m.url,
        allowed_hosts=tuple(m.allowed_hosts or ()),
        load_timeout_s=m.load_timeout_s,
    )


def suited_classes(m: Media) -> frozenset[ScreenClass]:
    """The screen classes a file is big enough for (recorded at upload; older rows: every class)."""
    return frozenset(ScreenClass(c) for c in m.screen_classes or ()) or frozenset(ScreenClass)


ScreenSize = tuple[int, int]  # width × height as mounted


def mounted_size(screen: Screen) -> ScreenSize:
    """The screen's size as people see it (a portrait screen registered as 1920×1080 is 1080×1920)."""
    long_side, short_side = max(screen.width, screen.height), min(screen.width, screen.height)
    if screen.orientation == Orientation.PORTRAIT:
        return short_side, long_side
    return long_side, short_side


def _shape_distance(m: Media, size: ScreenSize) -> tuple[float, bool]:
    """How far a picture's shape is from the screen's (log of the ratios); on a tie (a square screen
    between 4:3 and 3:4) the one of the screen's orientation wins."""
    if m.width <= 0 or m.height <= 0:
        return math.inf, True
    distance = abs(math.log((m.width / m.height) / (size[0] / size[1])))
    return round(distance, 9), (m.width >= m.height) != (size[0] >= size[1])


def nearest_variants(group: Sequence[Media], size: ScreenSize | None) -> list[Media]:
    """The group with each set of variants (media sharing ``variant_of``: one slide drawn for several
    screen shapes) cut to the one nearest ``size`` (the first on a tie); None keeps them all."""
    if size is None:
        return list(group)
    best: dict[str, Media] = {}
    for m in group:
        if m.variant_of and (
            m.variant_of not in best or _shape_distance(m, size) < _shape_distance(best[m.variant_of], size)
        ):
            best[m.variant_of] = m
    return [m for m in group if not m.variant_of or best[m.variant_of] is m]


SHAPE_RATIO = 1.2  # wider than this (or taller) counts as a landscape (or portrait) picture


def picture_orientations(m: Media) -> frozenset[Orientation]:
    """The orientations a picture suits by its shape; a square-ish one suits both."""
    if m.width <= 0 or m.height <= 0:
        return frozenset(Orientation)
    if m.width >= SHAPE_RATIO * m.height:
        return frozenset({Orientation.LANDSCAPE})
    if m.height >= SHAPE_RATIO * m.width:
        return frozenset({Orientation.PORTRAIT})
    return frozenset(Orientation)


def announcement_items(
    a: AnnouncementRow, media: dict[str, Media], size: ScreenSize | None = None
) -> list[ContentItem]:
    items = []
    if a.text:
        items.append(
            ContentItem(
                id=text_item_id(a.id),
                kind=ItemKind.TEXT,
                duration_s=a.duration_s,
                text=dict(a.text),
                title=a.title,
            )
        )
    items += media_items([media[mid] for mid in a.media_ids if mid in media], size)
    return items


def to_announcement(
    a: AnnouncementRow, media: dict[str, Media], size: ScreenSize | None = None
) -> Announcement:
    return Announcement(
        id=a.id,
        item_ids=tuple(i.id for i in announcement_items(a, media, size)),
        priority=Priority(a.priority),
        valid_from=a.valid_from,
        valid_until=a.valid_until,
        targeting=Targeting.model_validate(a.targeting or {}),
        ticker_text=dict(a.ticker_text or {}),
    )


BANNERS = ("banner_notice", "banner_warning")


def is_banner(a: AnnouncementRow) -> bool:
    """A CAP alert shown as a banner over the programme (its EmergencyState), not a loop slide."""
    return a.loudness in BANNERS


def to_campaign(
    c: CampaignRow, media: dict[str, Media] | None = None, size: ScreenSize | None = None
) -> Campaign:
    """The engine's campaign; with ``media``, its items as a screen of ``size`` gets them (of one
    slide's variants only the nearest, as :func:`media_items` puts them in the catalogue)."""
    if media is None:
        item_ids = tuple(media_item_id(m) for m in c.media_ids)
    else:
        item_ids = tuple(i.id for i in media_items([media[m] for m in c.media_ids if m in media], size))
    return Campaign(
        id=c.id,
        advertiser_id=c.advertiser_id,
        name=c.name,
        category=c.category,
        item_ids=item_ids,
        flight_start=c.flight_start,
        flight_end=c.flight_end,
        dayparts=tuple(Daypart.model_validate(d) for d in c.dayparts or ()),
        rrule=c.rrule,
        targeting=Targeting.model_validate(c.targeting or {}),
        share_percent=c.share_percent,
        plays_per_hour=c.plays_per_hour,
        frequency_cap_per_hour=c.frequency_cap_per_hour,
    )


def _schedulable(campaign: Campaign) -> bool:
    """A stored campaign the engine refuses (booked before a rule was checked) plays nowhere instead
    of failing every screen's manifest; the log says why."""
    problem = scheduling.campaign_problem(campaign)
    if problem is not None:
        log.warning("campaign %s is not scheduled: %s", campaign.id, problem)
    return problem is None


def _media_by_id(session: Session, ids: Iterable[str]) -> dict[str, Media]:
    """The ready media among ``ids``: a file still being transcoded (or that failed) plays nowhere."""
    wanted = set(ids)
    if not wanted:
        return {}
    query = select(Media).where(Media.id.in_(wanted), Media.status == "ready")
    return {m.id: m for m in session.scalars(query)}


@dataclass(frozen=True)
class LiveSet:
    """Everything that can reach a screen now, loaded once and shared by every screen's manifest."""

    announcements: tuple[tuple[AnnouncementRow, Targeting], ...]
    campaigns: tuple[tuple[CampaignRow, Targeting], ...]
    fillers: tuple[Media, ...]
    media: dict[str, Media]
    rules: RuleSet = field(default_factory=lambda: RuleSet(dict(DEFAULT_HOUSE_RULES), {}))
    memo: dict[tuple[object, ...], tuple[Catalogue, str]] = field(default_factory=dict)


def load_live(session: Session, now: dt.datetime) -> LiveSet:
    """Active announcements, approved campaigns not yet over, the operators' filler media, their media."""
    anns = list(
        session.scalars(
            select(AnnouncementRow)
            .where(
                AnnouncementRow.state.in_(LIVE_ANNOUNCEMENT_STATES),
                or_(AnnouncementRow.valid_until.is_(None), AnnouncementRow.valid_until > now),
            )
            .order_by(AnnouncementRow.created_at, AnnouncementRow.id)
        )
    )
    yesterday = (now - dt.timedelta(days=1)).date()
    camps = list(
        session.scalars(
            select(CampaignRow)
            .where(CampaignRow.state.in_(LIVE_CAMPAIGN_STATES), CampaignRow.flight_end >= yesterday)
            .order_by(CampaignRow.submitted_at, CampaignRow.id)
        )
    )
    fillers = list(
        session.scalars(
            select(Media)
            .where(Media.filler.is_(True), Media.status == "ready")
            .order_by(Media.created_at, Media.id)
        )
    )
    media = _media_by_id(
        session, [m for a in anns for m in a.media_ids] + [m for c in camps for m in c.media_ids]
    )
    media.update({m.id: m for m in fillers})
    return LiveSet(
        announcements=tuple((a, Targeting.model_validate(a.targeting or {})) for a in anns),
        campaigns=tuple((c, Targeting.model_validate(c.targeting or {})) for c in camps),
        fillers=tuple(fillers),
        media=media,
        rules=house_rules_of(session),
    )


@dataclass(frozen=True)
class RuleSet:
    """The house rules in force: every class's, and the groups' overrides."""

    classes: dict[ScreenClass, HouseRules]
    groups: dict[str, HouseRulesOverride]


def house_rules_of(session: Session) -> RuleSet:
    """Every class's rules (defaults with the operators' settings) and every group's overrides."""
    classes = dict(DEFAULT_HOUSE_RULES)
    groups: dict[str, HouseRulesOverride] = {}
    for row in session.scalars(select(HouseRulesRow).order_by(HouseRulesRow.scope, HouseRulesRow.name)):
        override = HouseRulesOverride(
            loop_seconds=row.loop_seconds,
            min_announcement_share=row.min_announcement_share,
            max_ad_share=row.max_ad_share,
            min_dwell_s=row.min_dwell_s,
        )
        if row.scope == "class" and row.name in CLASS_NAMES:
            cls = ScreenClass(row.name)
            classes[cls] = override.apply(DEFAULT_HOUSE_RULES[cls])
        elif row.scope == "group":
            groups[row.name] = override
    return RuleSet(classes, groups)


CLASS_NAMES = frozenset(c.value for c in ScreenClass)


def _select(
    live: LiveSet,
    screens: Sequence[Screen] | None,
    now: dt.datetime,
    extra: Sequence[tuple[CampaignRow, Targeting]],
) -> tuple[list[AnnouncementRow], list[CampaignRow]]:
    def wanted(t: Targeting) -> bool:
        return screens is None or any(scheduling.targets(t, s) for s in screens)

    anns = [
        a
        for a, t in live.announcements
        if (a.valid_until is None or a.valid_until > now) and not is_banner(a) and wanted(t)
    ]
    return anns, [c for c, t in (*live.campaigns, *extra) if wanted(t)]


def catalogue_for(
    session: Session,
    screens: Sequence[Screen] | None,
    now: dt.datetime,
    *,
    extra_campaigns: Sequence[CampaignRow] = (),
    live: LiveSet | None = None,
) -> Catalogue:
    """The catalogue restricted to what targets any of ``screens`` (None = everything live)."""
    live = live or load_live(session, now)
    media = live.media
    extra = [(c, Targeting.model_validate(c.targeting or {})) for c in extra_campaigns]
    if extra:
        media = {**media, **_media_by_id(session, [m for c, _ in extra for m in c.media_ids])}
    anns, camps = _select(live, screens, now, extra)
    size = mounted_size(screens[0]) if screens is not None and len(screens) == 1 else None
    return assemble(anns, camps, live.fillers, media, live.rules, size)


def selected(
    live: LiveSet, screen: Screen, now: dt.datetime
) -> tuple[list[AnnouncementRow], list[CampaignRow]]:
    """The live announcements (loop slides) and campaigns that target ``screen``."""
    return _select(live, [screen], now, ())


def shared_catalogue(
    live: LiveSet,
    screen: Screen,
    now: dt.datetime,
    digest: Callable[[Catalogue], str],
    chosen: tuple[list[AnnouncementRow], list[CampaignRow]] | None = None,
) -> tuple[Catalogue, str]:
    """The screen's catalogue and its hash, built once for all screens that select the same rows
    (``chosen``: what ``selected`` gave, when the caller has it)."""
    anns, camps = chosen if chosen is not None else selected(live, screen, now)
    # The screen's own rules (its class's with its groups' overrides) are written in as its class's
    # rules: the manifest needs no group rules, which older players could not parse.
    base = Catalogue(house_rules=live.rules.classes, group_house_rules=live.rules.groups)
    rules = screen_house_rules(base, screen)
    size = mounted_size(screen)
    shape = round(size[0] / size[1], 3)  # the variants a screen gets depend on its shape only
    key = (tuple(a.id for a in anns), tuple(c.id for c in camps), screen.screen_class, rules, shape)
    found = live.memo.get(key)
    if found is None:
        own = RuleSet({**live.rules.classes, screen.screen_class: rules}, {})
        catalogue = assemble(anns, camps, live.fillers, live.media, own, size)
        found = live.memo[key] = (catalogue, digest(catalogue))
    return found


def assemble(
    anns: Sequence[AnnouncementRow],
    camps: Sequence[CampaignRow],
    fillers: Sequence[Media],
    media: dict[str, Media],
    rules: RuleSet | None = None,
    size: ScreenSize | None = None,
) -> Catalogue:
    """The engine's catalogue; ``size`` (a screen's, as mounted) picks among variants (None: all)."""
    items: dict[str, ContentItem] = {}
    shown = []
    for a in anns:
        got = announcement_items(a, media, size)
        if got:  # an announcement of a video still being transcoded waits for it
            shown.append(a)
        for item in got:
            items[item.id] = item
    anns = shown
    for group in [[media[m] for m in c.media_ids if m in media] for c in camps] + [list(fillers)]:
        for item in media_items(group, size):
            items[item.id] = item
    return Catalogue(
        items=items,
        announcements=tuple(to_announcement(a, media, size) for a in anns),
        campaigns=tuple(
            campaign
            for c in camps
            if all(m in media for m in c.media_ids) and _schedulable(campaign := to_campaign(c, media, size))
        ),
        filler_item_ids=tuple(media_item_id(f.id) for f in fillers),
        house_rules=dict(rules.classes) if rules is not None else dict(DEFAULT_HOUSE_RULES),
        group_house_rules=dict(rules.groups) if rules is not None else {},
    )


def item_title(session: Session, item_id: str | None) -> str | None:
    """A readable name for a catalogue item id (a heartbeat's current item), else the id itself."""
    if not item_id:
        return None
    media_prefix, text_prefix = media_item_id(""), text_item_id("")
    if item_id.startswith(media_prefix):
        media = session.get(Media, item_id.removeprefix(media_prefix))
        if media is not None:
            return media.title or media.filename or item_id
    if item_id.startswith(text_prefix):
        announcement = session.get(AnnouncementRow, item_id.removeprefix(text_prefix))
        if announcement is not None:
            return announcement.title or item_id
    return item_id
