"""Which device keys open the device API: one rule, :meth:`DeviceKeys.authorise_device`.

Both the normal dependency (``signage.deps.current_device``) and the poll fast path ask it. The
normal path reads the key's device from the database, applies the rule and remembers the
answer stamped with the change generation read *before* the row; the fast path only asks the
memory, and gets an answer only while that generation is still the current one. Every change
to a device's key or revocation moves the generation (``core.changes``: tracked in this process,
a database trigger for everything else), so a revoked key is refused at once in the process that
revoked it and within ``poll_cache_s`` everywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from content_server.core.changes import CachedGenerations
from content_server.signage.models import Device


@dataclass(frozen=True)
class DeviceGrant:
    """A key's device, as far as the API needs to know before loading it."""

    device_id: str
    kind: str  # player | kiosk


def grant_for(device: Device | None) -> DeviceGrant | None:
    """The rule: a key opens the API while its device exists and is not revoked."""
    if device is None or device.revoked_at is not None:
        return None
    return DeviceGrant(device.id, device.kind)


class DeviceKeys:
    """Device authorisation with a memory of recent answers for the fast path."""

    def __init__(self, generations: CachedGenerations) -> None:
        self._generations = generations
        self._granted: dict[str, tuple[int, DeviceGrant]] = {}  # sha256(key) -> (generation, grant)

    def authorise_device(self, key_hash: str, session: Session | None = None) -> DeviceGrant | None:
        """The grant for a key's SHA-256, or None: refused (with a session) or not known here now
        (without one: the caller takes the normal route, which asks again with a session)."""
        if session is None:
            known = self._granted.get(key_hash)
            current = self._generations.current()
            if known is None or current is None or known[0] != current[0]:
                return None
            return known[1]
        current = self._generations.current() or self._generations.read(session)  # before the row
        grant = grant_for(session.scalar(select(Device).where(Device.key_sha256 == key_hash)))
        if grant is None:
            self._granted.pop(key_hash, None)
        else:
            self._granted[key_hash] = (current[0], grant)
        return grant
