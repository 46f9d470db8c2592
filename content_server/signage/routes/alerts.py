"""Authorised alert feeds posting OASIS CAP 1.2 XML, signed with the feed's HMAC secret."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from content_server.core.body_limit import max_body
from content_server.core.deps import ClockDep, NowDep, Operator, SessionDep, SettingsDep, client_address
from content_server.signage import cap
from content_server.signage.services import alerts

router = APIRouter(tags=["alerts"])


class FeedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    area_groups: dict[str, list[str]] = Field(default_factory=dict, max_length=200)


class FeedOut(BaseModel):
    id: str
    name: str
    area_groups: dict[str, list[str]]
    secret: str | None = None  # shown once, at creation
    post_url: str


class CapResult(BaseModel):
    identifier: str
    msg_type: str
    announcement_id: str | None
    duplicate: bool
    received_at: dt.datetime


@router.post("/alert-feeds", response_model=FeedOut, status_code=201)
def create_feed(
    body: FeedIn, session: SessionDep, now: NowDep, settings: SettingsDep, _op: Operator
) -> FeedOut:
    feed = alerts.create_feed(session, body.name, body.area_groups, now=now)
    return FeedOut(
        id=feed.id,
        name=feed.name,
        area_groups=feed.area_groups,
        secret=cap.feed_secret(settings.secret_key, feed.id),
        post_url=f"/api/v1/alert-feeds/{feed.id}/cap",
    )


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
    feed's signature over it and apply the CAP message on a worker thread with its own session."""
    body = await request.body()
    record, created = await run_in_threadpool(
        alerts.receive_signed,
        request.app.state.sessions,
        settings.secret_key,
        feed_id,
        body,
        request.headers.get("x-signature"),
        now=clock.now(),
        address=client_address(request),
    )
    response.status_code = 201 if created else 200
    return CapResult(
        identifier=record.identifier,
        msg_type=record.msg_type,
        announcement_id=record.announcement_id,
        duplicate=not created,
        received_at=record.received_at,
    )
