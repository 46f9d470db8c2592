"""Announcements (operator) and campaigns (advertiser booking, operator approval queue)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from content_server.core.deps import Advertiser, NowDep, Operator, OperatorOrAdvertiser, SessionDep
from content_server.signage.services import bookings

router = APIRouter(tags=["bookings"])


class AnnouncementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    title: str
    text: dict[str, str]
    ticker_text: dict[str, str]
    media_ids: list[str]
    duration_s: float
    priority: str
    valid_from: dt.datetime
    valid_until: dt.datetime | None
    targeting: dict[str, Any]
    state: str
    source: str
    created_at: dt.datetime


class CampaignOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    advertiser_id: str
    name: str
    category: str
    media_ids: list[str]
    flight_start: dt.date
    flight_end: dt.date
    dayparts: list[dict[str, Any]]
    rrule: str | None
    targeting: dict[str, Any]
    share_percent: float | None
    plays_per_hour: int | None
    frequency_cap_per_hour: int | None
    state: str
    reason: str
    availability: dict[str, Any] | None
    submitted_at: dt.datetime
    decided_at: dt.datetime | None


class AvailabilityOut(BaseModel):
    fits: bool
    max_share_percent: float
    conflicts: list[str]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=2000)


@router.post("/announcements", response_model=AnnouncementOut, status_code=201)
def create_announcement(
    body: bookings.AnnouncementIn, session: SessionDep, now: NowDep, op: Operator
) -> AnnouncementOut:
    row = bookings.create_announcement(session, op, body, now=now)
    return AnnouncementOut.model_validate(row)


@router.get("/announcements", response_model=list[AnnouncementOut])
def list_announcements(session: SessionDep, _op: Operator) -> list[AnnouncementOut]:
    return [AnnouncementOut.model_validate(a) for a in bookings.list_announcements(session)]


@router.get("/announcements/{ann_id}", response_model=AnnouncementOut)
def get_announcement(ann_id: str, session: SessionDep, _op: Operator) -> AnnouncementOut:
    return AnnouncementOut.model_validate(bookings.get_announcement(session, ann_id))


@router.post("/announcements/{ann_id}/{action}", response_model=AnnouncementOut)
def move_announcement(
    ann_id: str,
    action: Literal["pause", "resume", "end"],
    session: SessionDep,
    now: NowDep,
    _op: Operator,
) -> AnnouncementOut:
    row = bookings.move_announcement(session, ann_id, action, now=now)
    return AnnouncementOut.model_validate(row)


@router.post("/campaigns/availability", response_model=AvailabilityOut)
def check_availability(
    body: bookings.CampaignIn, session: SessionDep, now: NowDep, adv: Advertiser
) -> AvailabilityOut:
    return AvailabilityOut(**bookings.check_campaign(session, adv, body, now=now))


@router.post("/campaigns", response_model=CampaignOut, status_code=201)
def submit_campaign(
    body: bookings.CampaignIn, session: SessionDep, now: NowDep, adv: Advertiser
) -> CampaignOut:
    row = bookings.submit_campaign(session, adv, body, now=now)
    return CampaignOut.model_validate(row)


@router.get("/campaigns", response_model=list[CampaignOut])
def list_campaigns(
    session: SessionDep,
    user: OperatorOrAdvertiser,
    state: Annotated[
        Literal["pending", "approved", "rejected", "paused", "ended"] | None,
        Query(description="filter by state"),
    ] = None,
) -> list[CampaignOut]:
    return [CampaignOut.model_validate(c) for c in bookings.list_campaigns(session, user, state)]


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut)
def get_campaign(campaign_id: str, session: SessionDep, user: OperatorOrAdvertiser) -> CampaignOut:
    return CampaignOut.model_validate(bookings.visible_campaign(session, user, campaign_id))


@router.post("/campaigns/{campaign_id}/withdraw", response_model=CampaignOut)
def withdraw(campaign_id: str, session: SessionDep, now: NowDep, adv: Advertiser) -> CampaignOut:
    row = bookings.withdraw_campaign(session, adv, campaign_id, now=now)
    return CampaignOut.model_validate(row)


@router.post("/campaigns/{campaign_id}/{action}", response_model=CampaignOut)
def decide(
    campaign_id: str,
    action: Literal["approve", "reject", "pause", "resume", "end"],
    session: SessionDep,
    now: NowDep,
    op: Operator,
    body: DecisionIn | None = None,
) -> CampaignOut:
    row = bookings.decide_campaign(
        session, op, campaign_id, action, reason=body.reason if body else "", now=now
    )
    return CampaignOut.model_validate(row)
