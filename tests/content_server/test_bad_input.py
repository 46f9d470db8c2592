"""Bad input gets a 4xx with a message and changes nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

from PIL import Image

from tests.fixtures.server import AppClient, pair_device


def test_malformed_wrong_missing_huge_and_unknown(app_client: AppClient) -> None:
    c = app_client
    op = c.auth(c.operator)
    hdr = {**op, "Content-Type": "application/json"}
    r = c.post("/api/v1/announcements", content=b'{"title": ', headers=hdr)
    assert r.status_code == 422 and r.json()["detail"]
    r = c.post("/api/v1/announcements", json={"title": 5, "text": "not a dict"}, headers=op)
    assert r.status_code == 422 and "text" in r.json()["detail"]
    r = c.post("/api/v1/announcements", json={}, headers=op)
    assert r.status_code == 422 and "title" in r.json()["detail"]
    r = c.post("/api/v1/announcements", json={"title": "x", "text": {"en": "a" * 2_000_000}}, headers=op)
    assert r.status_code == 413 and "bytes" in r.json()["detail"]
    r = c.post(
        "/api/v1/announcements",
        json={"title": "x", "text": {"en": "hi"}, "valid_from": "2026-11-25T10:00:00"},
        headers=op,
    )
    assert r.status_code == 422 and "time zone" in r.json()["detail"]
    assert c.get("/api/v1/announcements", headers=op).json() == []
    for path in (
        "/api/v1/screens/nope",
        "/api/v1/media/nope",
        "/api/v1/campaigns/nope",
        "/api/v1/announcements/nope",
    ):
        r = c.get(path, headers=op)
        assert r.status_code == 404 and "unknown" in r.json()["detail"], path
    assert c.get("/api/v1/assets/" + "0" * 64, headers=pair_device(c).headers).status_code == 404
    assert c.get("/api/v1/assets/../../etc/passwd", headers=op).status_code == 404


def test_a_revoked_key_downloads_nothing(app_client: AppClient) -> None:
    """The asset route is what nginx relies on (X-Accel-Redirect): the key is checked before the asset."""
    c = app_client
    dev = pair_device(c)
    assert c.get("/api/v1/assets/" + "0" * 64, headers=dev.headers).status_code == 404  # a key it knows
    c.post(f"/api/v1/screens/{dev.device_id}/revoke", headers=c.auth(c.operator))
    r = c.get("/api/v1/assets/" + "0" * 64, headers=dev.headers)
    assert r.status_code == 401 and r.json()["detail"]


def test_behind_failing_and_frozen(app_client: AppClient, media_dir) -> None:  # type: ignore[no-untyped-def]
    c = app_client
    op = c.auth(c.operator)
    for name in ("landscape.png", "portrait.png"):
        m = c.post(
            f"/api/v1/media?filename={name}", content=(media_dir / name).read_bytes(), headers=op
        ).json()
        c.patch(f"/api/v1/media/{m['id']}", json={"filler": True, "duration_s": 10}, headers=op)
    dev = pair_device(c, screen_class="indoor_small")
    old = c.get("/api/v1/device/manifest", headers=dev.headers).json()["version"]

    def beat(**kw: object) -> dict:
        hb = {"sent_at": c.clock.now().isoformat(), "player_version": "1", "manifest_version": old, **kw}
        c.post("/api/v1/device/heartbeat", json=hb, headers=dev.headers)
        return c.get(f"/api/v1/screens/{dev.device_id}/status", headers=op).json()

    assert beat(screen_hash="h1")["sync"] == "in_sync"
    c.post("/api/v1/announcements", json={"title": "new", "text": {"en": "new"}}, headers=op)
    status = beat(screen_hash="h2")
    assert status["sync"] == "syncing" and status["latest_manifest"] != old
    c.clock.advance(dt.timedelta(minutes=11).total_seconds())
    status = beat(screen_hash="h3")
    assert status["sync"] == "behind" and "old manifest" in " ".join(status["problems"])
    status = beat(screen_hash="h3", failed_items=["m-x"])
    assert status["sync"] == "failing"
    # the picture hash stays "h3" for 6 minutes while the loop rotates two slides: frozen
    c.clock.advance(dt.timedelta(minutes=6).total_seconds())
    status = beat(screen_hash="h3")
    assert status["frozen"] is True
    status = beat(screen_hash="h4")
    assert status["frozen"] is False


def test_screenshot_on_request(app_client: AppClient, media_dir) -> None:  # type: ignore[no-untyped-def]
    c = app_client
    op = c.auth(c.operator)
    dev = pair_device(c)
    hb = {"sent_at": c.clock.now().isoformat(), "player_version": "1"}
    assert (
        c.post("/api/v1/device/heartbeat", json=hb, headers=dev.headers).json()["screenshot_requested"]
        is False
    )
    c.post(f"/api/v1/screens/{dev.device_id}/screenshot-request", headers=op)
    assert (
        c.post("/api/v1/device/heartbeat", json=hb, headers=dev.headers).json()["screenshot_requested"]
        is True
    )
    r = c.post("/api/v1/device/screenshot", content=b"GIF89a not png", headers=dev.headers)
    assert r.status_code == 422 and "PNG" in r.json()["detail"]
    png = (media_dir / "landscape.png").read_bytes()
    assert c.post("/api/v1/device/screenshot", content=png, headers=dev.headers).status_code == 204
    shot = c.get(f"/api/v1/screens/{dev.device_id}/screenshot", headers=op)
    assert shot.status_code == 200 and shot.content.startswith(b"\x89PNG")  # the server's re-encoding
    with Image.open(io.BytesIO(shot.content)) as im, Image.open(io.BytesIO(png)) as original:
        assert im.size == original.size
    assert (
        c.post("/api/v1/device/heartbeat", json=hb, headers=dev.headers).json()["screenshot_requested"]
        is False
    )


def test_only_the_latest_screenshot_is_kept(app_client: AppClient) -> None:
    """A new screenshot replaces the old one on disk; one sent within 30 s of the last is refused."""
    c = app_client
    op = c.auth(c.operator)
    dev = pair_device(c)
    media = c.data_dir / "media"

    def stored() -> set[str]:
        return {p.name for p in media.rglob("*") if p.is_file() and p.relative_to(media).parts[0] != "tmp"}

    shas = []
    for colour in ("red", "blue"):
        assert c.post(f"/api/v1/screens/{dev.device_id}/screenshot-request", headers=op).status_code == 200
        out = io.BytesIO()
        Image.new("RGB", (32, 18), colour).save(out, format="PNG")
        r = c.post("/api/v1/device/screenshot", content=out.getvalue(), headers=dev.headers)
        if colour == "blue":
            assert r.status_code == 429 and stored() == {shas[0]}  # 30 s have not passed
            c.clock.advance(30)
            r = c.post("/api/v1/device/screenshot", content=out.getvalue(), headers=dev.headers)
        assert r.status_code == 204
        shot = c.get(f"/api/v1/screens/{dev.device_id}/screenshot", headers=op)
        shas.append(hashlib.sha256(shot.content).hexdigest())
        assert stored() == {shas[-1]}
    assert shas[0] != shas[1]
