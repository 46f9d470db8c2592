"""The fleet wall's data: every live device with its firing alerts (reads only)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from content_server.core.settings import Settings
from content_server.fleet import wall
from content_server.fleet.models import AlertRule, AlertSubject
from content_server.fleet.rule_kinds import DEVICE_KINDS
from content_server.signage.models import Device


def problems(session: Session) -> dict[str, list[str]]:
    """Device id -> the kinds of the device rules it is firing under now."""
    found: dict[str, list[str]] = defaultdict(list)
    rows = session.execute(
        select(AlertSubject.subject, AlertRule.kind)
        .join(AlertRule, AlertRule.id == AlertSubject.rule_id)
        .where(AlertSubject.firing.is_(True), AlertRule.kind.in_([k.value for k in DEVICE_KINDS]))
    )
    for subject, kind in rows:
        found[subject].append(kind)
    return found


def view(
    session: Session,
    *,
    now: dt.datetime,
    settings: Settings,
    state: str = "",
    screen_class: str = "",
    kind: str = "",
) -> wall.Wall:
    devices = session.execute(
        select(
            Device.id,
            Device.name,
            Device.kind,
            Device.screen_class,
            Device.tags,
            Device.last_seen_at,
            Device.screenshot_at,
            Device.screenshot_sha256,
        )
        .where(Device.revoked_at.is_(None))
        .order_by(Device.name)
    )
    facts = [
        wall.DeviceFacts(
            d.id,
            d.name,
            d.kind,
            d.screen_class,
            tuple(d.tags or ()),
            d.last_seen_at,
            d.screenshot_at,
            d.screenshot_sha256 is not None,
        )
        for d in devices
    ]
    return wall.build(
        facts,
        problems(session),
        now=now,
        offline_after=dt.timedelta(seconds=settings.offline_after_s),
        state=state if state in wall.STATES else "",
        screen_class=screen_class,
        kind=kind if kind in ("player", "kiosk") else "",
    )


def screenshot_of(session: Session, device_id: str) -> str | None:
    """The SHA-256 of a live device's latest screenshot."""
    return session.scalar(select(Device.screenshot_sha256).where(Device.id == device_id))
