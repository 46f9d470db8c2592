"""The shipped deployment (deploy/): nginx site + two server processes + PostgreSQL with our settings.

Brought up on loopback from the real files (see ``tests/reliability/stack.py``). A player pairs
through nginx, syncs with the real ``signage_player`` Syncer, downloads its asset through nginx
(byte-exact, Range, the device key checked by the app, which leaves the bytes to nginx:
``test_asset_accel.py``) and posts a proof-of-play batch that is counted once even when
retried; both processes serve the same manifest and ETag. The real kiosk app books a service
through nginx, the resident's phone pays on the pay page its QR leads to (the public URL is
nginx's), and the kiosk shows the receipt.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from schedules.protocol.device import Manifest
from tests.content_server.kiosk.conftest import seeded_live
from tests.fixtures.plays import believable_batches
from tests.fixtures.server import pair_device
from tests.kiosk_app.test_live import browse_and_confirm, decode_qr, phone_pays, start_live_kiosk
from tests.kiosk_app.test_window import find
from tests.reliability.stack import PG_BIN, Stack

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(not (PG_BIN / "initdb").exists(), reason="PostgreSQL 15 binaries missing"),
]


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with Stack(servers=2, SIGNAGE_POLL_CACHE_S="0.2") as st:
        yield st


def _png(seed: int) -> bytes:
    img = Image.new("RGB", (640, 360), (seed % 256, 80, 160))
    for x in range(0, 640, 7):
        img.putpixel((x, (x * seed) % 360), (255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_postgres_runs_with_the_shipped_settings(stack: Stack) -> None:
    assert stack.pg.setting("shared_buffers") == "512MB"
    assert stack.pg.setting("synchronous_commit") == "on"
    assert stack.pg.setting("idle_in_transaction_session_timeout") == "1min"


def test_player_against_the_layout(stack: Stack, tmp_path: Path, media_dir: Path) -> None:
    front = stack.front
    op = front.auth(front.operator)
    dev = pair_device(front, screen_class="indoor_small")
    body = _png(7)
    r = httpx.post(front.api + "/media?filename=slide.png", content=body, headers=op, timeout=60)
    assert r.status_code == 201, r.text
    media = r.json()
    assert (
        httpx.patch(front.api + f"/media/{media['id']}", json={"filler": True}, headers=op).status_code == 200
    )

    # both processes answer the same manifest with the same ETag
    etags = set()
    for srv in stack.servers:
        r = httpx.get(srv.api + "/device/manifest", headers=dev.headers)
        assert r.status_code == 200, r.text
        etags.add(r.headers["etag"])
    assert len(etags) == 1
    r = httpx.get(front.api + "/device/manifest", headers=dev.headers)
    manifest = Manifest.model_validate_json(r.content)
    assert r.headers["etag"] in etags and [a.sha256 for a in manifest.assets] == [media["sha256"]]
    r = httpx.get(front.api + "/device/manifest", headers={**dev.headers, "If-None-Match": r.headers["etag"]})
    assert r.status_code == 304

    # the asset comes from the store through nginx: byte-exact, ranged, device key required
    url = front.url + manifest.assets[0].url
    r = httpx.get(url, headers=dev.headers)
    assert r.status_code == 200 and r.content == body
    assert hashlib.sha256(r.content).hexdigest() == media["sha256"]
    assert r.headers["etag"] == f'"{media["sha256"]}"'
    assert r.headers["content-type"] == "image/png"  # the app's type, nginx's bytes
    r = httpx.get(url, headers={**dev.headers, "Range": "bytes=100-1099"})
    assert r.status_code == 206 and r.content == body[100:1100]
    assert r.headers["content-range"] == f"bytes 100-1099/{len(body)}"
    r = httpx.get(url, headers={**dev.headers, "Range": f"bytes={len(body) - 10}-"})
    assert r.status_code == 206 and r.content == body[-10:]
    for headers in ({}, {"Authorization": "Bearer not-a-device-key"}, op):
        r = httpx.get(url, headers=headers)
        assert r.status_code == 401 and r.json()["detail"], (headers, r.text)  # the app's JSON error
    r = httpx.get(front.api + "/assets/" + "0" * 64, headers=dev.headers)
    assert r.status_code == 404 and "unknown asset" in r.text
    assert httpx.get(front.api + "/assets/../../etc/passwd", headers=dev.headers).status_code in (400, 404)

    # the real player sync code, through nginx, ends with the verified asset in its cache
    from signage_player.cache import AssetCache
    from signage_player.client import ServerClient
    from signage_player.sync import Syncer

    client = ServerClient(front.url, dev.device_key)
    try:
        cache = AssetCache(tmp_path / "cache", 64 * 1024 * 1024)
        syncer = Syncer(client, cache, tmp_path / "player", now=lambda: dt.datetime.now(dt.UTC))
        assert syncer.sync_once() is True
        assert syncer.live is not None and syncer.live.version == manifest.version
        cached = cache.path_if_valid(media["sha256"])
        assert cached is not None and cached.read_bytes() == body
    finally:
        client.close()

    # proof of play: a batch through nginx, retried (lost reply), counts once
    picture = media_dir / "small.jpg"
    _, (records,) = believable_batches(stack.servers[0], dev, picture, count=1, size=25, days=1)
    first = httpx.post(front.api + "/device/plays", json={"records": records}, headers=dev.headers).json()
    again = httpx.post(
        stack.servers[1].api + "/device/plays", json={"records": records}, headers=dev.headers
    ).json()
    assert first["accepted"] == 25 and again["accepted"] == 0 and again["duplicates"] == 25
    rows = httpx.get(front.api + f"/reports/plays?screen_id={dev.device_id}", headers=op).json()
    assert sum(row["plays"] for row in rows) == 25


def test_kiosk_books_and_is_paid_through_the_layout(qtbot, stack: Stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from kiosk_app.flow import Screen
    from schedules.protocol.kiosk import OrderState

    seeding = seeded_live(stack.front)
    live = next(seeding)
    app = start_live_kiosk(qtbot, live, tmp_path / "kiosk", timeout_s=5)
    try:
        browse_and_confirm(qtbot, app, live)
        qtbot.waitUntil(lambda: app.flow.state.screen is Screen.PAY, timeout=15_000)
        order = app.flow.state.order
        assert order is not None and order.payment is not None
        assert order.payment.qr_payload.startswith(stack.front.url + "/pay/")  # the phone goes through nginx
        assert decode_qr(find(app.window, "pay_qr")) == order.payment.qr_payload
        phone_pays(order.payment.qr_payload)
        qtbot.waitUntil(lambda: app.flow.state.screen is Screen.RECEIPT, timeout=15_000)
        assert app.flow.state.order is not None and app.flow.state.order.state is OrderState.PAID
    finally:
        app.close()
        seeding.close()
