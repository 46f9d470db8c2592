"""Device side of :mod:`schedules.protocol`: pairing, manifest, heartbeat, plays, screenshot, emergency."""

from __future__ import annotations

from fastapi import APIRouter, Request

from content_server.api.deps import NowDep, SessionDep, SettingsDep
from content_server.keys import public_key_b64
from content_server.services import screens
from schedules.protocol import PairingPoll, PairingRequest, PairingStarted, PairingStatus

router = APIRouter(tags=["devices"])


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
    status = screens.poll_pairing(
        session,
        pairing_id,
        body.poll_secret,
        now=now,
        server_public_key=public_key_b64(request.app.state.server_key),
    )
    session.commit()
    return status
