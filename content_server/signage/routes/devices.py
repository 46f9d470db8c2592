"""Device side of :mod:`schedules.protocol.device`: pairing, manifest, heartbeat, plays, screenshots."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from content_server.core.audit.services import act_as
from content_server.core.body_limit import max_body, raw_body
from content_server.core.conditional import PRIVATE_REVALIDATE, conditional, strong_etag
from content_server.core.deps import (
    ClockDep,
    NowDep,
    SessionDep,
    SettingsDep,
    StoreDep,
    bearer_token,
    client_address,
)
from content_server.core.group_commit import GroupCommit
from content_server.core.keys import public_key_b64
from content_server.signage.deps import CurrentDevice, CurrentGrant, device_actor, device_for_key
from content_server.signage.device_lane import DeviceLane
from content_server.signage.screenshots import MAX_SCREENSHOT_BYTES, ScreenshotPolicy
from content_server.signage.services import manifest as manifests
from content_server.signage.services import plays, screens
from content_server.signage.services.heartbeats import HeartbeatBook
from content_server.signage.services.manifest_cache import ManifestCache, for_request
from schedules.protocol.device import (
    MAX_KINDS_QUERY,
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


@router.post("/devices/pairing", response_model=PairingStarted, status_code=201)
def start_pairing(
    body: PairingRequest, session: SessionDep, now: NowDep, settings: SettingsDep
) -> PairingStarted:
    """A new device asks for a code to show; an operator claims it in the portal."""
    return screens.start_pairing(
        session, body, now=now, public_url=settings.public_url, ttl_s=settings.pairing_ttl_s
    )


@router.post("/devices/pairing/{pairing_id}/poll", response_model=PairingStatus)
def poll_pairing(
    pairing_id: str, body: PairingPoll, request: Request, session: SessionDep, now: NowDep
) -> PairingStatus:
    server_key = public_key_b64(request.app.state.server_key)
    return screens.poll_pairing(session, pairing_id, body.poll_secret, now=now, server_public_key=server_key)


@router.get(
    "/device/manifest",
    response_model=Manifest,
    responses={304: {"description": "unchanged since the ETag given in If-None-Match"}},
)
async def manifest(
    request: Request,
    now: NowDep,
    settings: SettingsDep,
    kinds: Annotated[str | None, Query(max_length=MAX_KINDS_QUERY)] = None,
) -> Response:
    """The screen's catalogue and rules for the next days, with ``ETag`` = manifest version;
    ``kinds`` names the optional item kinds the player plays (``web,stream``). A poll the fast
    path could not answer: the key, the device and its manifest in one hop on the screens' lane."""
    state = request.app.state
    cache: ManifestCache = state.manifests
    token, address = bearer_token(request), client_address(request)

    def serve() -> tuple[Manifest, bytes]:
        with state.sessions() as session:
            device = device_for_key(state.device_keys, session, token)
            act_as(session, device_actor(device, address))  # its changes are the device's
            return for_request(cache, session, device, now, days=settings.manifest_days, kinds=kinds)

    lane: DeviceLane = state.device_lane
    m, body = await lane.run(serve)
    return conditional(
        request.headers.get("if-none-match"),
        strong_etag(m.version),
        PRIVATE_REVALIDATE,
        lambda headers: Response(body, media_type="application/json", headers=headers),
    )


@router.post("/device/heartbeat", response_model=HeartbeatReply)
async def heartbeat(body: Heartbeat, request: Request, now: NowDep, grant: CurrentGrant) -> HeartbeatReply:
    """The screen's state; a change is stored before the reply, the last-seen time within
    ``SIGNAGE_HEARTBEAT_FLUSH_S`` (``services/heartbeats.py``)."""
    book: HeartbeatBook = request.app.state.heartbeats
    return await book.record(grant.device_id, body, now)


@router.post("/device/plays", response_model=PlayBatchResult)
async def upload_plays(
    body: PlayBatch, request: Request, now: NowDep, grant: CurrentGrant
) -> PlayBatchResult:
    """Proof of play, answered once committed (with other requests' batches: group commit): only
    plays a manifest served to this device vouches for are kept (the others are counted by
    reason); a retried batch never double counts (records are keyed by their id)."""
    writes: GroupCommit = request.app.state.writes
    submission = plays.PlaySubmission(grant.device_id, body, now, request.app.state.play_policy)
    return await writes.write(plays.INGEST, submission)


@router.post(
    "/device/screenshot",
    status_code=204,
    dependencies=[max_body(MAX_SCREENSHOT_BYTES)],  # the policy's default
    openapi_extra=raw_body("image/png"),
)
async def screenshot(request: Request, store: StoreDep, clock: ClockDep, device: CurrentDevice) -> Response:
    """A PNG the server asked for (``HeartbeatReply.screenshot_requested``): 409 when nobody asked
    (before a byte is read), 429 within the policy's interval of the last one, 422 unless it
    decodes as a PNG under the pixel limit. Streamed, then decoded, re-encoded and recorded on a
    worker thread; only the server's re-encoding of the latest is kept."""
    policy: ScreenshotPolicy = request.app.state.screenshot_policy
    screens.check_screenshot_wanted(device, policy, clock.now())
    staged = await store.stage_stream(request.stream(), policy.max_bytes)
    await run_in_threadpool(
        screens.store_screenshot,
        request.app.state.sessions,
        device.id,
        staged,
        store,
        policy,
        clock,
        actor=device_actor(device, client_address(request)),
    )
    return Response(status_code=204)


@router.get("/device/emergency", response_model=EmergencyState)
async def emergency(
    request: Request,
    clock: ClockDep,
    settings: SettingsDep,
    known: Annotated[str | None, Query(max_length=64)] = None,
    wait: Annotated[float, Query(ge=0, le=120)] = 0,
) -> EmergencyState:
    """Long-poll: answers at once when the screen's emergency version differs from ``known``.

    Holds no database connection while waiting: each check opens a short session on a worker thread.
    """
    state = request.app.state
    token = bearer_token(request)

    def current() -> EmergencyState:
        with state.sessions() as session:
            device = device_for_key(state.device_keys, session, token)
            return manifests.emergency_for(session, device, clock.now())

    return await state.emergency.long_poll(
        state.sessions, current, known, min(wait, settings.emergency_max_wait_s)
    )
