"""Per-screen manifests (7 days offline) with a stable content-hash version, and emergency state.

``ManifestCache`` keeps the last built manifest per screen keyed by the change generation and
the UTC day, so an unchanged poll costs one indexed query and a dict look-up (304 path).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from content_server import scheduling
from content_server.models import AnnouncementRow, Device, Media
from content_server.services import state
from content_server.services.catalogue import catalogue_for, text_item_id
from content_server.services.screens import to_screen
from schedules.model import ContentItem, ItemKind, Priority, Targeting
from schedules.protocol import AssetRef, EmergencyState, Manifest

NO_EMERGENCY = "none"


def _canonical(value: object) -> object:
    """JSON-able form where sets are sorted, so every process hashes the same content alike."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(
            (_canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True, default=str)
        )
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return value


def _digest(payload: object) -> str:
    blob = json.dumps(_canonical(payload), sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def valid_until(now: dt.datetime, days: int) -> dt.datetime:
    """Start of the next UTC day plus ``days``: at least ``days`` ahead, stable within a day."""
    midnight = dt.datetime.combine(now.astimezone(dt.UTC).date(), dt.time(), dt.UTC)
    return midnight + dt.timedelta(days=days + 1)


def emergency_for(session: Session, device: Device, now: dt.datetime) -> EmergencyState:
    """The newest active emergency announcement that targets this screen."""
    screen = to_screen(device)
    rows = session.scalars(
        select(AnnouncementRow)
        .where(
            AnnouncementRow.priority == Priority.EMERGENCY.value,
            AnnouncementRow.state == "active",
            AnnouncementRow.valid_from <= now,
            or_(AnnouncementRow.valid_until.is_(None), AnnouncementRow.valid_until > now),
        )
        .order_by(AnnouncementRow.valid_from.desc(), AnnouncementRow.id)
    )
    for a in rows:
        if scheduling.targets(Targeting.model_validate(a.targeting or {}), screen):
            text = dict(a.text) or {"zh": a.title, "en": a.title}
            item = ContentItem(
                id=text_item_id(a.id),
                kind=ItemKind.TEXT,
                duration_s=max(1.0, a.duration_s),
                text=text,
                title=a.title,
            )
            version = _digest([a.id, a.valid_from.isoformat(), a.updated_at.isoformat(), text])[:16]
            return EmergencyState(
                version=version, active=True, announcement_id=a.id, item=item, started_at=a.valid_from
            )
    return EmergencyState(version=NO_EMERGENCY, active=False)


def build(
    session: Session, device: Device, now: dt.datetime, *, days: int, base_path: str = "/api/v1"
) -> Manifest:
    screen = to_screen(device)
    catalogue = catalogue_for(session, [screen], now)
    shas = sorted({i.asset_sha256 for i in catalogue.items.values() if i.asset_sha256})
    assets: list[AssetRef] = []
    if shas:
        seen: set[str] = set()
        for m in session.scalars(
            select(Media).where(Media.sha256.in_(shas)).order_by(Media.sha256, Media.id)
        ):
            if m.sha256 not in seen:
                seen.add(m.sha256)
                assets.append(
                    AssetRef(
                        sha256=m.sha256,
                        size=m.size,
                        media_type=m.media_type,
                        url=f"{base_path}/assets/{m.sha256}",
                    )
                )
    emergency = emergency_for(session, device, now)
    body = {
        "valid_until": valid_until(now, days),
        "screen": screen,
        "catalogue": catalogue,
        "assets": tuple(assets),
        "emergency": emergency,
        "default_item_id": catalogue.filler_item_ids[0] if catalogue.filler_item_ids else None,
    }
    probe = Manifest(version="", generated_at=now, **body)
    version = _digest(probe.model_dump(mode="python", exclude={"version", "generated_at"}))
    return probe.model_copy(update={"version": version})


@dataclass
class _Entry:
    key: tuple[int, dt.date]
    manifest: Manifest
    body: bytes


class ManifestCache:
    """Last manifest per device, valid while the change generation and the UTC day are the same."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, device: Device, now: dt.datetime, *, days: int) -> tuple[Manifest, bytes]:
        generation, _ = state.generations(session)
        key = (generation, now.astimezone(dt.UTC).date())
        with self._lock:
            entry = self._entries.get(device.id)
        if entry is not None and entry.key == key:
            return entry.manifest, entry.body
        manifest = build(session, device, now, days=days)
        body = manifest.model_dump_json().encode()
        with self._lock:
            self._entries[device.id] = _Entry(key, manifest, body)
        if device.served_manifest != manifest.version:
            device.served_manifest = manifest.version
            device.served_manifest_since = now
            session.commit()
        return manifest, body

    def forget(self, device_id: str) -> None:
        with self._lock:
            self._entries.pop(device_id, None)
