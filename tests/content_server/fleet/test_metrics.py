"""The Prometheus endpoint: behind its token; the district's numbers from whichever process is scraped
(two real server processes on one PostgreSQL), polls counted on the fast path too."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from content_server.core import runtime as core_runtime
from tests.fixtures.postgres import create_database
from tests.fixtures.server import AppClient, LiveServer, bootstrap_operator, make_app_client, pair_device
from tests.fixtures.waiting import eventually

TOKEN = "metrics-token-0123456789"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, by name and labels (the official parser reads it)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_need_their_token_and_are_off_without_one(app_client: AppClient) -> None:
    assert app_client.get("/metrics").status_code == 404  # no token configured: not there at all
    client = make_app_client(app_client.data_dir.parent / "metrics", metrics_token=TOKEN)
    with client:
        assert client.get("/metrics").status_code == 401
        assert (
            client.get("/metrics", headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code
            == 401
        )
        # an operator's API token is not the metrics token
        bootstrap_operator(client)
        assert client.get("/metrics", headers=client.auth(client.operator)).status_code == 401
        ok = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200 and ok.headers["content-type"].startswith("text/plain")


def test_the_numbers_say_what_the_fleet_does(tmp_path: Path) -> None:
    client = make_app_client(tmp_path / "data", metrics_token=TOKEN)
    with client:
        bootstrap_operator(client)
        devices = [pair_device(client) for _ in range(3)]
        kiosk = pair_device(client, kind="kiosk")
        hb = {"sent_at": client.clock.now().isoformat(), "player_version": "t"}
        for d in devices[:2]:
            assert client.post("/api/v1/device/heartbeat", json=hb, headers=d.headers).status_code == 200
        etag = client.get("/api/v1/device/manifest", headers=devices[0].headers).headers["etag"]
        for _ in range(4):  # answered from memory by the fast path: counted all the same
            r = client.get("/api/v1/device/manifest", headers={**devices[0].headers, "If-None-Match": etag})
            assert r.status_code == 304
        core_runtime._flush_metrics(client.app)  # type: ignore[arg-type]  # what the 5-second job does
        found = samples(client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text)
    assert found[("signage_devices", (("kind", "player"), ("state", "online")))] == 2
    assert found[("signage_devices", (("kind", "player"), ("state", "never_seen")))] == 1
    assert found[("signage_devices", (("kind", "kiosk"), ("state", "never_seen")))] == 1
    assert found[("signage_device_polls_total", ())] == 5
    assert found[("signage_heartbeats_total", ())] == 2
    assert found[("signage_delivery_queue", (("state", "dead"),))] == 0
    assert found[("signage_alerts_open", (("acknowledged", "false"),))] == 0
    assert found[("signage_audit_records_total", ())] >= 5  # four devices claimed, one account
    assert kiosk.device_id


@pytest.mark.postgres
@pytest.mark.slow
def test_two_processes_report_the_same_district_numbers(
    postgres_url: str, live_server_factory: Callable[..., LiveServer]
) -> None:
    url = create_database(postgres_url)
    a = live_server_factory(database_url=url, SIGNAGE_METRICS_TOKEN=TOKEN)
    b = live_server_factory(
        database_url=url, data_dir=a.data_dir, create_operator=False, SIGNAGE_METRICS_TOKEN=TOKEN
    )
    dev = pair_device(a)
    for server, n in ((a, 5), (b, 3)):
        for _ in range(n):
            assert httpx.get(server.api + "/device/manifest", headers=dev.headers).status_code == 200
    waiting = threading.Thread(
        target=httpx.get,
        args=(a.api + "/device/emergency",),
        kwargs={"params": {"known": "none", "wait": 20}, "headers": dev.headers, "timeout": 30},
    )
    waiting.start()

    def scrape(server: LiveServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        r = httpx.get(server.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200
        return samples(r.text)

    def settled(server: LiveServer) -> bool:
        found = scrape(server)
        return (
            found.get(("signage_device_polls_total", ())) == 8
            and found.get(("signage_emergency_polls_waiting", ())) == 1
            and found.get(("signage_device_lane_waiting", ())) == 0  # the screens' queue, reported
        )

    eventually(lambda: settled(b), timeout_s=20, what="B reporting A's polls and A's waiting long-poll")
    assert settled(a)
    waiting.join(30)
