"""Which device keys open the device API: one rule, :meth:`DeviceKeys.authorise_device`.

Both the normal dependency (``signage.deps.current_device``) and the poll fast path ask it. The
normal path reads the key's device from the database, applies the rule and remembers the
answer stamped with the change generation read *before* the row; the fast path only asks the
memory, and gets an answer only while the ``keys`` scope has not been stamped since. Every change
to a device's key or revocation, and every deletion, stamps it (``core.changes``: tracked in this
process, a database trigger for everything else), so a revoked key is refused at once in the
process that revoked it and within ``poll_cache_s`` everywhere else. Other changes (campaigns,
settings) leave the memory alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from content_server.core.changes import KEYS, CachedGenerations
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

    def __init__(self, generations: CachedGenerations, *, targeted: bool = True) -> None:
        self._generations = generations
        self._targeted = targeted  # false: any change forgets every answer (the old design, for comparison)
        self._granted: dict[str, tuple[int, DeviceGrant]] = {}  # sha256(key) -> (generation, grant)

    def authorise_device(self, key_hash: str, session: Session | None = None) -> DeviceGrant | None:
        """The grant for a key's SHA-256, or None: refused (with a session) or not known here now
        (without one: the caller takes the normal route, which asks again with a session)."""
        if session is None:
            known = self._granted.get(key_hash)
            if known is None:
                return None
            if self._targeted:
                return known[1] if self._generations.unchanged_since(known[0], (KEYS,)) else None
            current = self._generations.current()
            return known[1] if current is not None and known[0] == current[0] else None
        current = self._generations.current()
        if current is None or self._generations.stamp(KEYS) > current[0]:  # a key changed since
            current = self._generations.read(session)  # before the row
        grant = grant_for(session.scalar(select(Device).where(Device.key_sha256 == key_hash)))
        if grant is None:
            self._granted.pop(key_hash, None)
        else:
            self._granted[key_hash] = (current[0], grant)
        return grant
