"""Authorised alert feeds posting OASIS CAP 1.2 XML, signed with the feed's HMAC secret."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from content_server.core.body_limit import max_body
from content_server.core.deps import ClockDep, NowDep, Operator, SessionDep, SettingsDep, client_address
from content_server.signage import cap
from content_server.signage.cap_policy import AreaMapping
from content_server.signage.models import AlertFeed
from content_server.signage.services import alerts

router = APIRouter(tags=["alerts"])


class FeedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    area_groups: dict[str, list[str]] = Field(default_factory=dict, max_length=200)  # names only (older form)
    area_mapping: AreaMapping | None = None  # area names in any language and geocodes -> groups

    @field_validator("area_groups")
    @classmethod
    def _mappable(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        """The older form is read back as an AreaMapping: refuse (422) what that would refuse, not
        store it and fail every later read of the feed."""
        try:
            AreaMapping.from_area_groups(v)
        except ValidationError as exc:
            raise ValueError("; ".join(e["msg"] for e in exc.errors())) from None
        return v


class FeedOut(BaseModel):
    id: str
    name: str
    area_groups: dict[str, list[str]]
    area_mapping: AreaMapping
    secret: str | None = None  # shown once, at creation
    post_url: str

    @classmethod
    def of(cls, feed: AlertFeed, secret: str | None = None) -> FeedOut:
        return cls(
            id=feed.id,
            name=feed.name,
            area_groups=feed.area_groups or {},
            area_mapping=alerts.mapping_of(feed),
            secret=secret,
            post_url=f"/api/v1/alert-feeds/{feed.id}/cap",
        )


class CapResult(BaseModel):
    identifier: str
    msg_type: str
    outcome: str  # cap_policy.Outcome: show, update, cancel, not_for_us, expired, not_actual, ...
    reason: dict[str, str]  # {"zh", "en"}
    announcement_id: str | None
    announcement_ids: list[str]
    duplicate: bool
    received_at: dt.datetime


@router.post("/alert-feeds", response_model=FeedOut, status_code=201)
def create_feed(
    body: FeedIn, session: SessionDep, now: NowDep, settings: SettingsDep, _op: Operator
) -> FeedOut:
    feed = alerts.create_feed(session, body.name, body.area_groups, now=now, area_mapping=body.area_mapping)
    return FeedOut.of(feed, secret=cap.feed_secret(settings.secret_key, feed.id))


@router.get("/alert-feeds", response_model=list[FeedOut])
def list_feeds(session: SessionDep, _op: Operator) -> list[FeedOut]:
    return [FeedOut.of(f) for f in alerts.list_feeds(session)]


@router.put("/alert-feeds/{feed_id}/area-mapping", response_model=FeedOut)
def set_area_mapping(feed_id: str, body: AreaMapping, session: SessionDep, _op: Operator) -> FeedOut:
    return FeedOut.of(alerts.set_mapping(session, feed_id, body))


@router.post(
    "/alert-feeds/{feed_id}/cap",
    response_model=CapResult,
    dependencies=[max_body(cap.MAX_CAP_BYTES)],
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/xml": {"schema": {"type": "string"}}}}
    },
)
async def post_cap(
    feed_id: str, request: Request, response: Response, clock: ClockDep, settings: SettingsDep
) -> CapResult:
    """Read the raw body (at most ``MAX_CAP_BYTES``: the route's declared limit), then check the
    feed's signature over it and apply the CAP message on a worker thread with its own session.

    Every well-formed, signed message is accepted (201, or 200 for a repeat) with its ``outcome``
    and ``reason``: an alert for no mapped area is ``not_for_us``, never an error for the feed."""
    body = await request.body()
    receipt = await run_in_threadpool(
        alerts.receive_signed,
        request.app.state.sessions,
        settings.secret_key,
        feed_id,
        body,
        request.headers.get("x-signature"),
        now=clock.now(),
        address=client_address(request),
    )
    record = receipt.record
    response.status_code = 201 if receipt.created else 200
    return CapResult(
        identifier=record.identifier,
        msg_type=record.msg_type,
        outcome=record.outcome,
        reason=receipt.reason,
        announcement_id=record.announcement_id,
        announcement_ids=list(record.announcement_ids or []),
        duplicate=not receipt.created,
        received_at=record.received_at,
    )
