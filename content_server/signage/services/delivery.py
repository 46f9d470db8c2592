"""Which screens show an emergency broadcast: the ones it targets, and among them the ones whose
latest heartbeat reports its version in play (``Heartbeat.emergency_version``).

The operator's confirmation says "delivered to N of M" and names the stragglers, instead of
promising what the server cannot see. A screen counts as delivered only once it said so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from content_server.signage import scheduling
from content_server.signage.models import Device
from content_server.signage.services.catalogue import load_live
from content_server.signage.services.manifest import emergency_for
from content_server.signage.services.screens import to_screen
from schedules.model import Targeting


@dataclass(frozen=True)
class Delivery:
    """One emergency broadcast's reach: screen names, delivered first."""

    announcement_id: str
    delivered: tuple[str, ...]
    waiting: tuple[str, ...]  # targeted, but no heartbeat has reported it in play yet

    @property
    def targeted(self) -> int:
        return len(self.delivered) + len(self.waiting)


def reported_version(device: Device) -> str | None:
    """The emergency version the device's latest heartbeat says it shows (None: it did not say)."""
    beat = device.last_heartbeat or {}
    value = beat.get("emergency_version")
    return value if isinstance(value, str) else None


def deliveries(session: Session, now: dt.datetime) -> dict[str, Delivery]:
    """Per active emergency announcement: the live devices it is for now, and who has it."""
    live = load_live(session, now)
    devices = session.scalars(
        select(Device).where(Device.revoked_at.is_(None)).order_by(Device.name, Device.id)
    )
    delivered: dict[str, list[str]] = {}
    waiting: dict[str, list[str]] = {}
    for device in devices:
        state = emergency_for(session, device, now, live)
        if not state.active or state.announcement_id is None:
            continue
        name = device.name or device.id
        done = reported_version(device) == state.version
        (delivered if done else waiting).setdefault(state.announcement_id, []).append(name)
    ids = set(delivered) | set(waiting)
    return {a: Delivery(a, tuple(delivered.get(a, ())), tuple(waiting.get(a, ()))) for a in sorted(ids)}


def targeted_names(session: Session, rule: Targeting) -> list[str]:
    """The live screens (players and kiosks) a broadcast not sent yet would reach: the confirmation
    step names them."""
    devices = session.scalars(
        select(Device).where(Device.revoked_at.is_(None)).order_by(Device.name, Device.id)
    )
    return [d.name or d.id for d in devices if scheduling.targets(rule, to_screen(d))]
