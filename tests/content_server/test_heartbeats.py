"""Heartbeats written on change (``signage/services/heartbeats.py``), on SQLite and PostgreSQL.

A beat whose status changed is in the device row before the reply; an unchanged one is answered
from memory and written with the next flush (``SIGNAGE_HEARTBEAT_FLUSH_S``); what an operator
asks (a screenshot) or a schedule makes due reaches the very next beat all the same. The flush
period is set long here, and the test moves the server's clock past it: nothing waits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from content_server.core.settings import Settings
from content_server.signage.models import Device
from tests.fixtures.server import (
    AppClient,
    LiveServer,
    bootstrap_operator,
    free_port,
    make_app_client,
    pair_device,
)

FLUSH_S = 60.0


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AppClient]:
    url = None
    if request.param == "postgres":
        from tests.fixtures.postgres import create_database

        url = create_database(request.getfixturevalue("postgres_url"))
    c = make_app_client(tmp_path / "data", database_url=url, heartbeat_flush_s=FLUSH_S, offline_after_s=600)
    with c:
        bootstrap_operator(c)
        yield c


def _row(c: AppClient, device_id: str) -> tuple[Any, ...]:
    with c.app.state.sessions() as s:  # type: ignore[attr-defined]
        d = s.scalars(select(Device).where(Device.id == device_id)).one()
        return d.player_version, d.last_seen_at, (d.last_heartbeat or {}).get("cache_bytes")


def _beat(c: AppClient, headers: dict[str, str], version: str, cache_bytes: int) -> dict[str, Any]:
    body = {"sent_at": c.clock.now().isoformat(), "player_version": version, "cache_bytes": cache_bytes}
    r = c.post("/api/v1/device/heartbeat", json=body, headers=headers)
    assert r.status_code == 200, r.text
    reply: dict[str, Any] = r.json()
    return reply


def test_a_change_is_stored_before_the_reply_the_rest_with_the_next_flush(client: AppClient) -> None:
    c = client
    dev = pair_device(c)
    first = _beat(c, dev.headers, "v1", 1)
    t1 = c.clock.now()
    assert _row(c, dev.device_id) == ("v1", t1, 1)
    assert first["manifest_version"]

    c.clock.advance(10)
    same = _beat(c, dev.headers, "v1", 2)  # only a drifting number: answered from memory
    assert same["manifest_version"] == first["manifest_version"] and not same["screenshot_requested"]
    assert _row(c, dev.device_id) == ("v1", t1, 1)  # not written yet

    c.clock.advance(10)
    _beat(c, dev.headers, "v2", 3)  # a new player version: written before the reply
    t3 = c.clock.now()
    assert _row(c, dev.device_id) == ("v2", t3, 3)

    c.clock.advance(FLUSH_S)
    _beat(c, dev.headers, "v2", 4)  # the flush is due: this beat and every pending one written
    assert _row(c, dev.device_id) == ("v2", c.clock.now(), 4)
    status = c.get(f"/api/v1/screens/{dev.device_id}/status", headers=c.auth(c.operator))
    assert status.status_code == 200 and status.json()["online"] is True, status.text


def test_a_screenshot_asked_for_reaches_the_next_unchanged_beat(client: AppClient) -> None:
    c = client
    dev = pair_device(c)
    _beat(c, dev.headers, "v1", 1)
    assert not _beat(c, dev.headers, "v1", 2)["screenshot_requested"]
    r = c.post(f"/api/v1/screens/{dev.device_id}/screenshot-request", headers=c.auth(c.operator))
    assert r.status_code == 200, r.text
    assert _beat(c, dev.headers, "v1", 3)["screenshot_requested"]


def test_a_scheduled_screenshot_is_asked_for_by_unchanged_beats(tmp_path: Path) -> None:
    c = make_app_client(
        tmp_path / "data", heartbeat_flush_s=FLUSH_S, offline_after_s=600, screenshot_every_s=3600
    )
    with c:
        bootstrap_operator(c)
        dev = pair_device(c)
        assert _beat(c, dev.headers, "v1", 1)["screenshot_requested"]  # none yet: due
        assert _beat(c, dev.headers, "v1", 2)["screenshot_requested"]  # still none received


def test_the_flush_must_be_well_within_the_offline_time() -> None:
    with pytest.raises(ValueError, match="HEARTBEAT_FLUSH_S"):
        Settings(secret_key="x" * 20, heartbeat_flush_s=60, offline_after_s=180)


@pytest.mark.slow
def test_a_changed_beat_acknowledged_survives_kill_9(tmp_path: Path) -> None:
    """The 2xx of a beat that changed the device's status means it is in the database: the process
    killed right after the reply, the row read with the server down, it is there."""
    server = LiveServer(
        data_dir=tmp_path / "srv", port=free_port(), extra_env={"SIGNAGE_HEARTBEAT_FLUSH_S": "30"}
    )
    server.data_dir.mkdir()
    server.create_operator()
    server.start()
    try:
        import httpx
        from sqlalchemy import create_engine

        dev = pair_device(server)
        sent = []
        for n in range(1, 6):
            body = {"sent_at": dt.datetime.now(dt.UTC).isoformat(), "player_version": f"k{n}"}
            r = httpx.post(server.api + "/device/heartbeat", json=body, headers=dev.headers)
            assert r.status_code == 200, r.text
            sent.append(f"k{n}")
        server.kill()
        engine = create_engine(server.db_url)
        try:
            with engine.connect() as conn:
                stored = conn.execute(
                    select(Device.player_version).where(Device.id == dev.device_id)
                ).scalar()
        finally:
            engine.dispose()
        assert stored == sent[-1]
    finally:
        server.start()
        server.stop()
