"""Operators' screen management: claim a pairing code, edit, revoke, request screenshots."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from content_server.core.blobs import serve_blob
from content_server.core.deps import NowDep, Operator, SessionDep, SettingsDep, StoreDep
from content_server.core.errors import NotFound
from content_server.signage.models import Device
from content_server.signage.services import screens

router = APIRouter(tags=["screens"])


class ClaimIn(screens.ScreenSettings):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=3, max_length=16)


class ScreenOut(BaseModel):
    id: str
    name: str
    kind: str
    screen_class: str
    orientation: str
    width: int
    height: int
    groups: list[str]
    tags: list[str]
    timezone: str
    hours: dict[str, Any]
    created_at: dt.datetime
    revoked: bool
    last_seen_at: dt.datetime | None
    player_version: str
    playing_manifest: str | None
    screenshot_requested: bool
    screenshot_at: dt.datetime | None

    @classmethod
    def of(cls, d: Device) -> ScreenOut:
        return cls(
            id=d.id,
            name=d.name,
            kind=d.kind,
            screen_class=d.screen_class,
            orientation=d.orientation,
            width=d.width,
            height=d.height,
            groups=list(d.groups or ()),
            tags=list(d.tags or ()),
            timezone=d.timezone,
            hours=dict(d.hours or {}),
            created_at=d.created_at,
            revoked=d.revoked_at is not None,
            last_seen_at=d.last_seen_at,
            player_version=d.player_version,
            playing_manifest=d.playing_manifest,
            screenshot_requested=d.screenshot_requested,
            screenshot_at=d.screenshot_at,
        )


@router.post("/screens/claim", response_model=ScreenOut, status_code=201)
def claim(body: ClaimIn, session: SessionDep, now: NowDep, _op: Operator) -> ScreenOut:
    settings = screens.ScreenSettings.model_validate(body.model_dump(exclude={"code"}))
    return ScreenOut.of(screens.claim(session, body.code, settings, now=now))


@router.get("/screens", response_model=list[ScreenOut])
def list_screens(session: SessionDep, _op: Operator) -> list[ScreenOut]:
    return [ScreenOut.of(d) for d in screens.all_devices(session)]


@router.get("/screens/{screen_id}", response_model=ScreenOut)
def get_screen(screen_id: str, session: SessionDep, _op: Operator) -> ScreenOut:
    return ScreenOut.of(screens.get_device(session, screen_id))


@router.patch("/screens/{screen_id}", response_model=ScreenOut)
def update_screen(
    screen_id: str, body: screens.ScreenPatch, session: SessionDep, now: NowDep, _op: Operator
) -> ScreenOut:
    return ScreenOut.of(screens.update(session, screen_id, body, now=now))


class StatusOut(BaseModel):
    screen_id: str
    online: bool
    last_seen_at: dt.datetime | None
    sync: str
    frozen: bool
    problems: list[str]
    playing_manifest: str | None
    latest_manifest: str
    heartbeat: dict[str, Any] | None


@router.get("/screens/{screen_id}/status", response_model=StatusOut)
def status(
    screen_id: str, request: Request, session: SessionDep, now: NowDep, settings: SettingsDep, _op: Operator
) -> StatusOut:
    """Online/offline, in sync/behind/failing and frozen, from the last heartbeat and the schedule."""
    d = screens.get_device(session, screen_id)
    latest, _ = request.app.state.manifests.get(session, d, now, days=settings.manifest_days)
    h = screens.health(session, d, now=now, settings=settings, latest=latest.version)
    return StatusOut(
        screen_id=d.id,
        online=h.online,
        last_seen_at=d.last_seen_at,
        sync=h.sync,
        frozen=h.frozen,
        problems=list(h.problems),
        playing_manifest=d.playing_manifest,
        latest_manifest=latest.version,
        heartbeat=d.last_heartbeat,
    )


@router.post("/screens/{screen_id}/screenshot-request", response_model=ScreenOut)
def request_screenshot(screen_id: str, session: SessionDep, _op: Operator) -> ScreenOut:
    """The device is told in its next heartbeat reply and uploads a PNG."""
    return ScreenOut.of(screens.request_screenshot(session, screen_id))


@router.get("/screens/{screen_id}/screenshot", response_class=Response)
def get_screenshot(
    screen_id: str, request: Request, session: SessionDep, store: StoreDep, _op: Operator
) -> Response:
    d = screens.get_device(session, screen_id)
    if d.screenshot_sha256 is None:
        raise NotFound("no screenshot yet")
    return serve_blob(request, store, d.screenshot_sha256, "image/png", private=True)


@router.post("/screens/{screen_id}/revoke", response_model=ScreenOut)
def revoke(screen_id: str, session: SessionDep, now: NowDep, _op: Operator) -> ScreenOut:
    return ScreenOut.of(screens.revoke(session, screen_id, now=now))
