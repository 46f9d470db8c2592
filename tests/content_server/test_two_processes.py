"""Two server processes on one PostgreSQL (a larger community behind nginx) serve consistent state."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable

import httpx
import pytest

from schedules.protocol.device import Manifest
from tests.fixtures.postgres import create_database
from tests.fixtures.server import LiveServer, pair_device
from tests.fixtures.waiting import eventually


def _manifest(server: LiveServer, headers: dict[str, str]) -> tuple[str, Manifest]:
    r = httpx.get(server.api + "/device/manifest", headers=headers)
    assert r.status_code == 200, r.text
    return r.headers["etag"], Manifest.model_validate_json(r.content)


@pytest.mark.postgres
@pytest.mark.slow
def test_two_processes_on_one_postgres_agree(
    postgres_url: str, live_server_factory: Callable[..., LiveServer]
) -> None:
    url = create_database(postgres_url)
    # each process trusts its cached change counter for SIGNAGE_POLL_CACHE_S (1 s by default)
    a = live_server_factory(database_url=url, SIGNAGE_POLL_CACHE_S="0.2", SIGNAGE_LOG_LEVEL="DEBUG")
    b = live_server_factory(
        database_url=url, data_dir=a.data_dir, create_operator=False, SIGNAGE_POLL_CACHE_S="0.2"
    )
    dev = pair_device(a, screen_class="outdoor_large", groups=["north"])
    op_a, op_b = a.auth(a.operator), b.auth(b.operator)  # a token from either works on both
    assert httpx.get(b.api + "/auth/me", headers=op_a).status_code == 200

    r = httpx.post(
        a.api + "/announcements",
        headers=op_a,
        json={"title": "Lift maintenance", "text": {"en": "Lift 2 closed"}},
    )
    ann = r.json()
    etag_a, m_a = _manifest(a, dev.headers)
    etag_b, m_b = _manifest(b, dev.headers)
    assert etag_a == etag_b and m_a.model_dump(exclude={"generated_at"}) == m_b.model_dump(
        exclude={"generated_at"}
    )
    assert [x.id for x in m_a.catalogue.announcements] == [ann["id"]]

    # a change made through B is seen through A once A's cached counter is older than
    # SIGNAGE_POLL_CACHE_S (0.2 s here): A's next poll after that answers the new manifest
    httpx.post(b.api + f"/announcements/{ann['id']}/pause", headers=op_b)
    paused = time.monotonic()

    def changed() -> httpx.Response | None:
        r = httpx.get(a.api + "/device/manifest", headers={**dev.headers, "If-None-Match": etag_a})
        return r if r.status_code == 200 else None

    r = eventually(changed, what="process A serving the paused announcement's manifest")
    assert time.monotonic() - paused < 10  # not never: the cached counter expired
    assert Manifest.model_validate_json(r.content).catalogue.announcements == ()
    assert r.headers["etag"] == _manifest(b, dev.headers)[0]

    # a batch sent to A and retried on B counts once (the announcement played while it was on)
    rec = {
        "id": str(uuid.uuid4()),
        "item_id": f"a-{ann['id']}",
        "announcement_id": ann["id"],
        "started_at": (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=10)).isoformat(),
        "duration_s": 8,
        "completed": True,
    }
    assert (
        httpx.post(a.api + "/device/plays", json={"records": [rec]}, headers=dev.headers).json()["accepted"]
        == 1
    )
    assert (
        httpx.post(b.api + "/device/plays", json={"records": [rec]}, headers=dev.headers).json()["duplicates"]
        == 1
    )

    # an emergency sent through B reaches a device long-polling A within 5 s
    known = httpx.get(a.api + "/device/emergency", headers=dev.headers).json()["version"]
    got: dict = {}

    def poll() -> None:
        r = httpx.get(a.api + f"/device/emergency?known={known}&wait=30", headers=dev.headers, timeout=40)
        got.update(r.json())

    t = threading.Thread(target=poll)
    t.start()
    log = a.data_dir / "server.log"  # A logs at DEBUG: each long-poll that starts waiting
    eventually(lambda: "long-poll waiting (1 waiting)" in log.read_text(), what="the long-poll waiting on A")
    sent = time.monotonic()
    httpx.post(
        b.api + "/announcements",
        headers=op_b,
        json={"title": "Gas leak", "text": {"en": "Leave building 3"}, "priority": "emergency"},
    )
    t.join(35)
    assert got.get("active") is True and time.monotonic() - sent < 10  # woken, not the long-poll's 30 s
