"""Announcements (operators) and campaigns (advertisers): creation, approval queue, pause/end."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from content_server.core.errors import Conflict, Invalid, NotFound
from content_server.core.models import User
from content_server.signage import scheduling
from content_server.signage.models import AnnouncementRow, CampaignRow, Media
from content_server.signage.services import insight
from content_server.signage.services.catalogue import catalogue_for, to_campaign
from schedules.bilingual import Bilingual
from schedules.model import Daypart, Priority, Targeting
from schedules.wallclock import earliest_local_date

log = logging.getLogger(__name__)

TEXT_LANGS = frozenset({"zh", "en"})
# What one screen plays of an announcement each loop: at most this many pictures, so a notice cannot
# crowd the rest of the programme out indefinitely. The studio's 60-page PDF limit is the same number,
# so any accepted PDF notice plays all its pages as one announcement.
MAX_ANNOUNCEMENT_SLIDES = 60
# The ids a request may list: every slide in each of the studio's shapes (see studio.canvas.MAX_SHAPES);
# variants of one slide count once towards MAX_ANNOUNCEMENT_SLIDES (a screen plays one of them).
MAX_ANNOUNCEMENT_MEDIA = MAX_ANNOUNCEMENT_SLIDES * 6
# A campaign's pictures by the same rule: at most this many per screen (its spots rotate through
# them), variants of one slide counted once, so a designed ad or an ad's PDF drawn for every screen
# shape still counts one picture a slide. An advertiser's PDF is refused above this many pages
# (studio.services.notices.limits_for), so any accepted ad PDF fits one campaign.
MAX_CAMPAIGN_SLIDES = 20
MAX_CAMPAIGN_MEDIA = MAX_CAMPAIGN_SLIDES * 6


class AnnouncementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    text: dict[str, str] = Field(default_factory=dict, max_length=4)
    ticker_text: dict[str, str] = Field(default_factory=dict, max_length=4)
    media_ids: list[str] = Field(default_factory=list, max_length=MAX_ANNOUNCEMENT_MEDIA)
    duration_s: float = Field(10.0, ge=1, le=600)
    priority: Priority = Priority.NORMAL
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    targeting: Targeting = Targeting()

    @model_validator(mode="after")
    def _check(self) -> AnnouncementIn:
        for field in (self.text, self.ticker_text):
            for lang, value in field.items():
                if lang not in TEXT_LANGS:
                    raise ValueError(f"text: language {lang!r} is not one of zh, en")
                if len(value) > 2000:
                    raise ValueError("text: at most 2000 characters per language")
        if not self.text and not self.media_ids:
            raise ValueError("give a text or at least one media item")
        for name in ("valid_from", "valid_until"):
            v = getattr(self, name)
            if v is not None and v.tzinfo is None:
                raise ValueError(f"{name}: needs a time zone offset")
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    category: str = Field("", max_length=64)
    media_ids: list[str] = Field(min_length=1, max_length=MAX_CAMPAIGN_MEDIA)
    flight_start: dt.date
    flight_end: dt.date
    dayparts: list[Daypart] = Field(default_factory=list, max_length=20)
    rrule: str | None = Field(None, max_length=200)
    targeting: Targeting = Targeting()
    share_percent: float | None = Field(None, gt=0, le=100)
    plays_per_hour: int | None = Field(None, ge=1, le=720)
    frequency_cap_per_hour: int | None = Field(None, ge=1, le=720)

    @model_validator(mode="after")
    def _check(self) -> CampaignIn:
        if self.flight_end < self.flight_start:
            raise ValueError("flight_end must not be before flight_start")
        if (self.flight_end - self.flight_start).days > 366:
            raise ValueError("a flight may last at most a year")
        if (self.share_percent is None) == (self.plays_per_hour is None):
            raise ValueError("set exactly one of share_percent and plays_per_hour")
        return self


# --- announcements -----------------------------------------------------------------------------


def _check_media(session: Session, ids: list[str], owner: User | None) -> list[Media]:
    rows = []
    for mid in ids:
        m = session.get(Media, mid)
        if m is None or (owner is not None and m.owner_id != owner.id):
            raise NotFound(f"unknown media {mid}")
        rows.append(m)
    return rows


def slides_per_screen(media: list[Media]) -> int:
    """How many pictures of ``media`` one screen plays at most: the variants of one slide (drawn for
    several screen shapes) count once."""
    return len({m.variant_of or m.id for m in media})


def check_slides_per_screen(media: list[Media], limit: int, what: Bilingual) -> None:
    """The one rule for how many pictures an announcement or a campaign may hold (Invalid, in both
    languages, when ``media`` would put more than ``limit`` on one screen)."""
    n = slides_per_screen(media)
    if n > limit:
        raise Invalid(f"media_ids: at most {limit} pictures play on a screen per {what.en}").in_both(
            f"每个{what.zh}在一块屏幕上最多播放 {limit} 张画面（同一画面的各种尺寸算一张），这里有 {n} 张。",
            f"At most {limit} pictures play on a screen per {what.en} (one slide's sizes count once); "
            f"this one has {n}.",
        )


def create_announcement(
    session: Session, op: User, body: AnnouncementIn, *, now: dt.datetime
) -> AnnouncementRow:
    scheduling.validate_targeting(body.targeting)
    media = _check_media(session, body.media_ids, None)
    check_slides_per_screen(media, MAX_ANNOUNCEMENT_SLIDES, Bilingual("公告", "announcement"))
    row = AnnouncementRow(
        title=body.title,
        text=body.text,
        ticker_text=body.ticker_text,
        media_ids=body.media_ids,
        duration_s=body.duration_s,
        priority=body.priority.value,
        valid_from=body.valid_from or now,
        valid_until=body.valid_until,
        targeting=body.targeting.model_dump(mode="json"),
        state="active",
        created_by=op.id,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.commit()
    log.info("announcement %s (%s) created by %s", row.id, row.priority, op.username)
    return row


def list_announcements(session: Session) -> list[AnnouncementRow]:
    """All announcements, newest first (operators only)."""
    q = select(AnnouncementRow).order_by(AnnouncementRow.created_at.desc(), AnnouncementRow.id)
    return list(session.scalars(q))


def get_announcement(session: Session, ann_id: str) -> AnnouncementRow:
    row = session.get(AnnouncementRow, ann_id)
    if row is None:
        raise NotFound("unknown announcement")
    return row


ANNOUNCEMENT_MOVES = {"pause": ("active", "paused"), "resume": ("paused", "active"), "end": (None, "ended")}


def move_announcement(session: Session, ann_id: str, action: str, *, now: dt.datetime) -> AnnouncementRow:
    row = get_announcement(session, ann_id)
    need, target = ANNOUNCEMENT_MOVES[action]
    if row.state == "ended" or (need is not None and row.state != need):
        raise Conflict(f"cannot {action} an announcement that is {row.state}")
    row.state = target
    row.updated_at = now
    session.commit()
    return row


# --- campaigns ---------------------------------------------------------------------------------


def _availability(session: Session, row: CampaignRow, now: dt.datetime) -> dict[str, Any]:
    request = to_campaign(row)
    screens = insight.targeted(session, request.targeting)
    if not screens:
        return {
            "fits": False,
            "max_share_percent": 0.0,
            "conflicts": ["no paired screen matches the targeting"],
        }
    catalogue = catalogue_for(session, screens, now, extra_campaigns=[row])
    today = earliest_local_date(now, {s.timezone for s in screens})  # a day over everywhere is not checked
    result = scheduling.check_availability(screens, catalogue, request, start=today)
    return {"fits": result.fits, "max_share_percent": result.max_share_percent, "conflicts": result.conflicts}


def _new_campaign_row(session: Session, adv: User, body: CampaignIn, now: dt.datetime) -> CampaignRow:
    scheduling.validate_targeting(body.targeting)
    media = _check_media(session, body.media_ids, adv)
    check_slides_per_screen(media, MAX_CAMPAIGN_SLIDES, Bilingual("投放", "campaign"))
    if body.rrule:
        from schedules.model import Campaign as _C

        try:
            _C(id="x", advertiser_id="x", item_ids=("x",), flight_start=body.flight_start,
               flight_end=body.flight_end, rrule=body.rrule, share_percent=1)  # fmt: skip
        except ValueError as exc:
            raise Invalid(f"rrule: {exc}") from exc
    return CampaignRow(
        advertiser_id=adv.id,
        name=body.name,
        category=body.category,
        media_ids=body.media_ids,
        flight_start=body.flight_start,
        flight_end=body.flight_end,
        dayparts=[d.model_dump(mode="json") for d in body.dayparts],
        rrule=body.rrule,
        targeting=body.targeting.model_dump(mode="json"),
        share_percent=body.share_percent,
        plays_per_hour=body.plays_per_hour,
        frequency_cap_per_hour=body.frequency_cap_per_hour,
        state="pending",
        submitted_at=now,
        updated_at=now,
    )


def check_campaign(session: Session, adv: User, body: CampaignIn, *, now: dt.datetime) -> dict[str, Any]:
    """Availability of a booking request without submitting it."""
    row = _new_campaign_row(session, adv, body, now)
    row.id = "preview"
    try:
        return _availability(session, row, now)
    finally:
        session.rollback()  # a preview: nothing of it may stay


@dataclass(frozen=True)
class CampaignPreview:
    """What a booking request would get: availability, how many screens, plays on its first day."""

    availability: dict[str, Any]
    screens: int
    daily_plays: int


def preview_campaign(session: Session, adv: User, body: CampaignIn, *, now: dt.datetime) -> CampaignPreview:
    """Availability and forecast of a booking request without submitting it (nothing is kept)."""
    row = _new_campaign_row(session, adv, body, now)
    row.id = "preview"
    try:
        screens = insight.targeted(session, body.targeting)
        availability = _availability(session, row, now)
        daily = insight.daily_forecast(session, row, now) if screens and availability["fits"] else 0
        return CampaignPreview(availability, len(screens), daily)
    finally:
        session.rollback()


def submit_campaign(session: Session, adv: User, body: CampaignIn, *, now: dt.datetime) -> CampaignRow:
    """Check availability with the scheduling engine, then queue for approval (409 if it cannot fit)."""
    row = _new_campaign_row(session, adv, body, now)
    session.add(row)
    session.flush()
    row.availability = _availability(session, row, now)
    if not row.availability["fits"]:
        session.rollback()
        reasons = "; ".join(row.availability["conflicts"][:3]) or "not enough free airtime"
        raise Conflict(f"the booking does not fit: {reasons}")
    session.commit()
    return row


# what an advertiser asks for (everything else is the approval's)
CAMPAIGN_TERMS = (
    "name", "category", "media_ids", "flight_start", "flight_end", "dayparts", "rrule", "targeting",
    "share_percent", "plays_per_hour", "frequency_cap_per_hour",
)  # fmt: skip


def update_campaign(
    session: Session, adv: User, campaign_id: str, body: CampaignIn, *, now: dt.datetime
) -> CampaignRow:
    """An advertiser changes a campaign still waiting for approval; it must fit again (409 if not)."""
    row = visible_campaign(session, adv, campaign_id)
    if row.advertiser_id != adv.id:
        raise NotFound("unknown campaign")
    if row.state != "pending":
        raise Conflict(f"only a pending campaign can be changed; this one is {row.state}")
    fresh = _new_campaign_row(session, adv, body, now)
    for column in CAMPAIGN_TERMS:
        setattr(row, column, getattr(fresh, column))
    row.submitted_at = now  # waits in the queue from its last change
    row.updated_at = now
    session.flush()
    row.availability = _availability(session, row, now)
    if not row.availability["fits"]:
        session.rollback()
        reasons = "; ".join(row.availability["conflicts"][:3]) or "not enough free airtime"
        raise Conflict(f"the booking does not fit: {reasons}")
    session.commit()
    log.info("campaign %s changed by %s", row.id, adv.username)
    return row


def campaigns_using(session: Session, media_id: str, states: tuple[str, ...]) -> list[CampaignRow]:
    """Campaigns in ``states`` that show ``media_id``."""
    query = select(CampaignRow).where(CampaignRow.state.in_(states)).order_by(CampaignRow.name)
    rows = session.scalars(query)
    return [c for c in rows if media_id in (c.media_ids or [])]


def visible_campaign(session: Session, user: User, campaign_id: str) -> CampaignRow:
    row = session.get(CampaignRow, campaign_id)
    if row is None or (user.role != "operator" and row.advertiser_id != user.id):
        raise NotFound("unknown campaign")
    return row


def list_campaigns(session: Session, user: User, state_filter: str | None) -> list[CampaignRow]:
    q = select(CampaignRow).order_by(CampaignRow.submitted_at, CampaignRow.id)
    if user.role != "operator":
        q = q.where(CampaignRow.advertiser_id == user.id)
    if state_filter:
        q = q.where(CampaignRow.state == state_filter)
    return list(session.scalars(q))


CAMPAIGN_MOVES: dict[str, tuple[tuple[str, ...], str]] = {
    "approve": (("pending",), "approved"),
    "reject": (("pending",), "rejected"),
    "pause": (("approved",), "paused"),
    "resume": (("paused",), "approved"),
    "end": (("pending", "approved", "paused"), "ended"),
}


def decide_campaign(
    session: Session, op: User, campaign_id: str, action: str, *, reason: str, now: dt.datetime
) -> CampaignRow:
    row = visible_campaign(session, op, campaign_id)
    allowed, target = CAMPAIGN_MOVES[action]
    if row.state not in allowed:
        raise Conflict(f"cannot {action} a campaign that is {row.state}")
    if action == "reject" and not reason.strip():
        raise Invalid("reason: say why the campaign is rejected")
    row.state = target
    row.reason = reason.strip()
    row.updated_at = now
    if action in ("approve", "reject"):
        row.decided_at = now
        row.decided_by = op.id
    session.commit()
    log.info("campaign %s %s by %s", row.id, target, op.username)
    return row


def withdraw_campaign(session: Session, adv: User, campaign_id: str, *, now: dt.datetime) -> CampaignRow:
    """An advertiser ends their own campaign."""
    row = visible_campaign(session, adv, campaign_id)
    if row.state in ("ended", "rejected"):
        raise Conflict(f"the campaign is already {row.state}")
    row.state = "ended"
    row.updated_at = now
    session.commit()
    return row
