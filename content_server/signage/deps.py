"""FastAPI dependencies of the device API: the paired, unrevoked device behind a bearer key.

Authorisation is :meth:`DeviceKeys.authorise_device`, the one rule the poll fast path asks too.
``CurrentDevice`` loads the device row; ``CurrentGrant`` (for the fleet's writes, which need only
the device's id) asks the rule's memory first and the database, on a worker thread, only when
the key is not known current there.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from content_server.core.audit.services import Actor, act_as
from content_server.core.db import release_connection
from content_server.core.deps import SessionDep, bearer_token, client_address
from content_server.core.errors import Unauthorized
from content_server.core.security import sha256_hex
from content_server.signage.models import Device
from content_server.signage.services.devices import DeviceGrant, DeviceKeys


def _key_hash(token: str | None) -> str:
    if not token or len(token) > 256:
        raise Unauthorized("device key missing (Authorization: Bearer <device_key>)")
    return sha256_hex(token)


def device_for_key(keys: DeviceKeys, session: Session, token: str | None) -> Device:
    """The device a bearer device key belongs to; Unauthorized when there is none (or revoked)."""
    grant = keys.authorise_device(_key_hash(token), session)
    device = session.get(Device, grant.device_id) if grant is not None else None
    if device is None:
        raise Unauthorized("unknown or revoked device")
    return device


def device_actor(device: Device, address: str = "") -> Actor:
    """A device as the audit trail names it: its id, its name, its kind (player or kiosk) as role."""
    return Actor("device", device.id, device.name, device.kind, address)


def current_device(request: Request, session: SessionDep) -> Device:
    """The paired, unrevoked device behind the bearer device key; 401 otherwise."""
    device = device_for_key(request.app.state.device_keys, session, bearer_token(request))
    act_as(session, device_actor(device, client_address(request)))  # its changes are the device's
    release_connection(session)
    return device


CurrentDevice = Annotated[Device, Depends(current_device)]


def _grant_from_database(
    sessions: sessionmaker[Session], keys: DeviceKeys, key_hash: str
) -> DeviceGrant | None:
    with sessions() as session:
        return keys.authorise_device(key_hash, session)


async def current_grant(request: Request) -> DeviceGrant:
    """The paired, unrevoked device behind the bearer device key, without loading its row; 401
    otherwise. No database work on the event loop: a key not known current here is looked up on
    the screens' lane (``device_lane``)."""
    state = request.app.state
    key_hash = _key_hash(bearer_token(request))
    grant = state.device_keys.authorise_device(key_hash)
    if grant is None:
        grant = await state.device_lane.run(_grant_from_database, state.sessions, state.device_keys, key_hash)
    if grant is None:
        raise Unauthorized("unknown or revoked device")
    return grant


CurrentGrant = Annotated[DeviceGrant, Depends(current_grant)]
