"""FastAPI dependencies of the device API: the paired, unrevoked device behind a bearer key.

Authorisation is :meth:`DeviceKeys.authorise_device`, the one rule the poll fast path asks too.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from content_server.core.audit.services import Actor, act_as
from content_server.core.db import release_connection
from content_server.core.deps import SessionDep, bearer_token, client_address
from content_server.core.errors import Unauthorized
from content_server.core.security import sha256_hex
from content_server.signage.models import Device
from content_server.signage.services.devices import DeviceKeys


def device_for_key(keys: DeviceKeys, session: Session, token: str | None) -> Device:
    """The device a bearer device key belongs to; Unauthorized when there is none (or revoked)."""
    if not token or len(token) > 256:
        raise Unauthorized("device key missing (Authorization: Bearer <device_key>)")
    grant = keys.authorise_device(sha256_hex(token), session)
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
