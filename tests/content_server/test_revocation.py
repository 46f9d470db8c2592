"""A device key is refused the moment it is revoked, whichever way it is revoked, fast path included.

Unchanged manifest polls are answered from memory (no query) while the key's grant and manifest
are known current. Revocation must not depend on any code remembering to bump a counter: each
path below ends a key its own way (the API, the portal, a service call, a plain ORM change, a
bulk statement, re-keying, deleting the device) and the very next poll is 401. SQL written by
hand in another connection is seen by this process within ``poll_cache_s`` (a database trigger
moves the counter); the test moves the clock instead of waiting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, text, update

from content_server.core.security import sha256_hex
from content_server.signage.models import Device
from content_server.signage.services import screens
from schedules.protocol.device import Manifest
from tests.fixtures.server import AppClient, PairedDevice, pair_device, request_queries
from tests.portal.conftest import csrf_of, portal_login

MANIFEST = "/api/v1/device/manifest"


@dataclass
class Polling:
    """A paired screen whose unchanged polls the fast path answers, with a query counter."""

    client: AppClient
    device: PairedDevice
    etag: str
    asset_url: str
    queries: list[str]

    def poll(self) -> int:
        headers = {**self.device.headers, "If-None-Match": self.etag}
        return self.client.get(MANIFEST, headers=headers).status_code

    def download(self) -> int:
        return self.client.get(self.asset_url, headers=self.device.headers).status_code


def polling(client: AppClient, media_dir: Path) -> Polling:
    op = client.auth(client.operator)
    img = client.post(
        "/api/v1/media?filename=a.jpg", content=(media_dir / "small.jpg").read_bytes(), headers=op
    )
    assert img.status_code in (200, 201), img.text
    ann = {"title": "停水", "text": {"zh": "停水", "en": "No water"}, "media_ids": [img.json()["id"]]}
    assert client.post("/api/v1/announcements", json=ann, headers=op).status_code == 201
    device = pair_device(client, screen_class="indoor_small")
    first = client.get(MANIFEST, headers=device.headers)
    assert first.status_code == 200
    asset_url = Manifest.model_validate_json(first.content).assets[0].url
    queries = request_queries(client)
    p = Polling(client, device, first.headers["etag"], asset_url, queries)
    assert p.poll() == 304 and p.download() == 200
    assert queries == [], "the unchanged poll and the download were not answered by the fast path"
    return p


def by_api(p: Polling) -> None:
    r = p.client.post(
        f"/api/v1/screens/{p.device.device_id}/revoke", headers=p.client.auth(p.client.operator)
    )
    assert r.status_code == 200


def by_portal(p: Polling) -> None:
    portal_login(p.client, p.client.operator)
    page = p.client.get(f"/portal/screens/{p.device.device_id}")
    assert page.status_code == 200
    r = p.client.post(
        f"/portal/screens/{p.device.device_id}/revoke",
        data={"csrf_token": csrf_of(page.text), "confirm": "yes"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "screen_revoked" in r.headers["location"], r.text


def by_service_call(p: Polling) -> None:
    """What a CLI or a scheduled job would do."""
    with p.client.app.state.sessions() as s:  # type: ignore[attr-defined]
        screens.revoke(s, p.device.device_id, now=p.client.clock.now())


def by_orm_change(p: Polling) -> None:
    """Code that sets the column itself and commits: no service, no counter in sight."""
    with p.client.app.state.sessions() as s:  # type: ignore[attr-defined]
        s.get(Device, p.device.device_id).revoked_at = p.client.clock.now()
        s.commit()


def by_bulk_update(p: Polling) -> None:
    with p.client.app.state.sessions() as s:  # type: ignore[attr-defined]
        s.execute(
            update(Device).where(Device.id == p.device.device_id).values(revoked_at=p.client.clock.now())
        )
        s.commit()


def by_rekeying(p: Polling) -> None:
    """The device gets a new key: the old one must stop working."""
    with p.client.app.state.sessions() as s:  # type: ignore[attr-defined]
        s.get(Device, p.device.device_id).key_sha256 = sha256_hex("a-brand-new-key")
        s.commit()


def by_deleting_the_device(p: Polling) -> None:
    with p.client.app.state.sessions() as s:  # type: ignore[attr-defined]
        s.delete(s.get(Device, p.device.device_id))
        s.commit()


def by_bulk_delete(p: Polling) -> None:
    with p.client.app.state.sessions() as s:  # type: ignore[attr-defined]
        s.execute(delete(Device).where(Device.id == p.device.device_id))
        s.commit()


PATHS: dict[str, Callable[[Polling], None]] = {
    "api": by_api,
    "portal": by_portal,
    "service": by_service_call,
    "orm-change": by_orm_change,
    "bulk-update": by_bulk_update,
    "re-keying": by_rekeying,
    "device-deleted": by_deleting_the_device,
    "bulk-delete": by_bulk_delete,
}


@pytest.mark.parametrize("path", list(PATHS))
def test_the_next_poll_after_a_revocation_is_refused(
    path: str, any_db_client: AppClient, media_dir: Path
) -> None:
    p = polling(any_db_client, media_dir)
    PATHS[path](p)
    assert p.poll() == 401
    assert p.download() == 401
    emergency = p.client.get("/api/v1/device/emergency", headers=p.device.headers)
    assert emergency.status_code == 401


def test_sql_from_another_connection_is_seen_within_the_poll_cache_time(
    any_db_client: AppClient, media_dir: Path
) -> None:
    """No ORM, no process of ours: the database trigger moves the counter, and this process
    trusts its cached counter for at most ``poll_cache_s`` of its clock."""
    p = polling(any_db_client, media_dir)
    engine = create_engine(p.client.app.state.engine.url)  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE devices SET revoked_at = created_at WHERE id = :id"), {"id": p.device.device_id}
        )
    engine.dispose()
    ttl = p.client.app.state.settings.poll_cache_s  # type: ignore[attr-defined]
    p.client.clock.advance(ttl + 0.001)
    assert p.poll() == 401
    assert p.download() == 401


def test_a_changed_key_opens_for_the_new_key_only(app_client: AppClient, media_dir: Path) -> None:
    p = polling(app_client, media_dir)
    by_rekeying(p)
    assert p.poll() == 401
    fresh = app_client.get(MANIFEST, headers={"Authorization": "Bearer a-brand-new-key"})
    assert fresh.status_code == 200
