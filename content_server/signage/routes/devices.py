"""Device side of :mod:`schedules.protocol.device`: pairing, manifest, heartbeat, plays, screenshots."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from content_server.core import changes as state
from content_server.core.blobs import etag_matches
from content_server.core.db import release_connection
from content_server.core.deps import (
    CurrentDevice,
    NowDep,
    SessionDep,
    SettingsDep,
    StoreDep,
    bearer_token,
    device_for_key,
)
from content_server.core.errors import Invalid, TooLarge
from content_server.core.keys import public_key_b64
from content_server.signage.services import manifest as manifests
from content_server.signage.services import plays, screens
from schedules.protocol.device import (
    EmergencyState,
    Heartbeat,
    HeartbeatReply,
    Manifest,
    PairingPoll,
    PairingRequest,
    PairingStarted,
    PairingStatus,
    PlayBatch,
    PlayBatchResult,
)

router = APIRouter(tags=["devices"])
MAX_SCREENSHOT_BYTES = 8 * 1024 * 1024


@router.post("/devices/pairing", response_model=PairingStarted, status_code=201)
def start_pairing(
    body: PairingRequest, session: SessionDep, now: NowDep, settings: SettingsDep
) -> PairingStarted:
    """A new device asks for a code to show; an operator claims it in the portal."""
    started = screens.start_pairing(
        session, body, now=now, public_url=settings.public_url, ttl_s=settings.pairing_ttl_s
    )
    session.commit()
    return started


@router.post("/devices/pairing/{pairing_id}/poll", response_model=PairingStatus)
def poll_pairing(
    pairing_id: str, body: PairingPoll, request: Request, session: SessionDep, now: NowDep
) -> PairingStatus:
    server_key = public_key_b64(request.app.state.server_key)
    status = screens.poll_pairing(
        session, pairing_id, body.poll_secret, now=now, server_public_key=server_key
    )
    session.commit()
    return status


@router.get(
    "/device/manifest",
    response_model=Manifest,
    responses={304: {"description": "unchanged since the ETag given in If-None-Match"}},
)
def manifest(
    request: Request, session: SessionDep, now: NowDep, settings: SettingsDep, device: CurrentDevice
) -> Response:
    """The screen's catalogue and rules for the next days, with ``ETag`` = manifest version."""
    cache: manifests.ManifestCache = request.app.state.manifests
    m, body = cache.get(session, device, now, days=settings.manifest_days)
    etag = f'"{m.version}"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


@router.get("/device/auth", status_code=204, response_class=Response)
def device_auth(_device: CurrentDevice) -> Response:
    """204 for a valid device key: lets nginx ``auth_request`` guard assets it serves itself."""
    return Response(status_code=204)


@router.post("/device/heartbeat", response_model=HeartbeatReply)
def heartbeat(
    body: Heartbeat,
    request: Request,
    session: SessionDep,
    now: NowDep,
    settings: SettingsDep,
    device: CurrentDevice,
) -> HeartbeatReply:
    screens.record_heartbeat(session, device, body, now=now)
    requested = device.screenshot_requested
    session.commit()
    m, _ = request.app.state.manifests.get(session, device, now, days=settings.manifest_days)
    release_connection(session)  # no connection held while the reply waits to be serialised
    return HeartbeatReply(server_time=now, screenshot_requested=requested, manifest_version=m.version)


@router.post("/device/plays", response_model=PlayBatchResult)
def upload_plays(body: PlayBatch, session: SessionDep, now: NowDep, device: CurrentDevice) -> PlayBatchResult:
    """Proof of play; a retried batch never double counts (records are keyed by their id)."""
    return plays.ingest(session, device, body, now=now)


@router.post(
    "/device/screenshot",
    status_code=204,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def screenshot(
    request: Request, session: SessionDep, store: StoreDep, now: NowDep, device: CurrentDevice
) -> Response:
    staged = await store.stage_stream(request.stream(), MAX_SCREENSHOT_BYTES)
    with open(staged.path, "rb") as f:
        head = f.read(8)
    if head != b"\x89PNG\r\n\x1a\n":
        staged.discard()
        raise Invalid("screenshot must be a PNG image")
    if staged.size > MAX_SCREENSHOT_BYTES:
        staged.discard()
        raise TooLarge("screenshot too large")
    staged.commit()
    device.screenshot_sha256 = staged.sha256
    device.screenshot_at = now
    device.screenshot_requested = False
    session.commit()
    return Response(status_code=204)


@router.get("/device/emergency", response_model=EmergencyState)
async def emergency(
    request: Request,
    known: Annotated[str | None, Query(max_length=64)] = None,
    wait: Annotated[float, Query(ge=0, le=120)] = 0,
) -> EmergencyState:
    """Long-poll: answers at once when the screen's emergency version differs from ``known``.

    Holds no database connection while waiting: each check opens a short session.
    """
    app = request.app
    notifier = app.state.emergency
    token = bearer_token(request)

    def read_generation() -> int:
        with app.state.sessions() as s:
            return state.generations(s)[1]

    def current() -> EmergencyState:
        with app.state.sessions() as s:
            device = device_for_key(s, token)
            return manifests.emergency_for(s, device, app.state.clock.now())

    loop = asyncio.get_running_loop()
    deadline = loop.time() + min(wait, app.state.settings.emergency_max_wait_s)
    gen = await run_in_threadpool(notifier.generation, read_generation)
    result = await run_in_threadpool(current)
    while known is not None and result.version == known:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        new_gen = await notifier.wait_for_change(gen, remaining, read_generation)
        if new_gen == gen:
            break
        gen = new_gen
        result = await run_in_threadpool(current)
    return result
