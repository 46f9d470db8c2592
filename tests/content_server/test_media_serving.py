"""Media as the server serves it: rebuilt files only, nosniff, HEAD, a screen's own assets only,
transcoding in the background with progress. Real uvicorn for the HTTP edge (curl included)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from fastapi import Response

from content_server.signage.asset_access import AssetGrant, may_download
from content_server.signage.fastpath import PollFastPath
from tests.fixtures import hostile_media
from tests.fixtures.hostile_media import PHP
from tests.fixtures.server import AppClient, LiveServer, bootstrap_operator, make_app_client, pair_device
from tests.fixtures.waiting import eventually
from tests.signage_player.serverkit import Operator

CURL = shutil.which("curl")


def _head(url: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.head(url, headers=headers, timeout=30)


@pytest.mark.slow
def test_media_answers_head_with_nosniff_and_the_servers_type_on_real_uvicorn(
    live_server: LiveServer, tmp_path: Path
) -> None:
    polyglot = hostile_media.polyglot_jpeg(tmp_path / "offer.jpg")
    op = Operator(live_server)
    media = op.upload(polyglot, "offer")
    assert (
        media["media_type"] == "image/jpeg"
        and media["upload_sha256"] == hashlib.sha256(polyglot.read_bytes()).hexdigest()
    )
    screen = pair_device(live_server, screen_class="indoor_small")
    op.announce(screen.device_id, media_ids=(media["id"],))
    httpx.get(live_server.api + "/device/manifest", headers=screen.headers).raise_for_status()
    asset_url = live_server.api + f"/assets/{media['sha256']}"
    for url, headers, kind in [
        (asset_url, screen.headers, "image/jpeg"),
        (live_server.url + media["content_url"], op.headers, "image/jpeg"),
        (live_server.url + media["thumbnail_url"], op.headers, "image/png"),
    ]:
        head = _head(url, headers)
        got = httpx.get(url, headers=headers, timeout=30)
        assert head.status_code == 200 and head.content == b"", url
        assert head.headers["x-content-type-options"] == "nosniff" == got.headers["x-content-type-options"]
        assert head.headers["content-type"] == kind == got.headers["content-type"]
        assert (
            int(head.headers["content-length"]) == len(got.content)
            and head.headers["etag"] == got.headers["etag"]
        )
        ranged = httpx.get(url, headers={**headers, "Range": "bytes=0-99"}, timeout=30)
        assert ranged.status_code == 206 and ranged.content == got.content[:100]
        assert ranged.headers["x-content-type-options"] == "nosniff"
    served = httpx.get(asset_url, headers=screen.headers).content
    assert (
        hashlib.sha256(served).hexdigest() == media["sha256"] and PHP not in served
    )  # the rebuilt file only
    if CURL:  # what download tools do: a HEAD first, then ranged parts
        out = subprocess.run(
            [CURL, "-sSI", "-H", f"Authorization: {screen.headers['Authorization']}", asset_url],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout.lower()  # fmt: skip
        assert out.startswith("http/1.1 200") and "x-content-type-options: nosniff" in out
        assert "content-type: image/jpeg" in out and "accept-ranges: bytes" in out


def _announce_only(c: AppClient, op: dict[str, str], media_id: str, screen_id: str) -> str:
    for ann in c.get("/api/v1/announcements", headers=op).json():
        if ann["state"] == "active":
            c.post(f"/api/v1/announcements/{ann['id']}/end", headers=op)
    body = {
        "title": media_id, "media_ids": [media_id], "duration_s": 10, "priority": "normal",
        "valid_from": "2026-11-20T00:00:00+00:00", "targeting": {"screen_ids": [screen_id]},
    }  # fmt: skip
    r = c.post("/api/v1/announcements", json=body, headers=op)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_a_screen_downloads_its_current_and_previous_manifests_assets_only(
    app_client: AppClient, media_dir: Path, tmp_path: Path
) -> None:
    c = app_client
    op = c.auth(c.operator)
    shop = c.auth(c.create_user("shop", "advertiser"))
    pics = []
    for i, size in enumerate([(800, 600), (640, 480), (1024, 768)]):
        path = hostile_media.flat_png(tmp_path / f"p{i}.png", size)
        pics.append(c.post(f"/api/v1/media?filename=p{i}.png", content=path.read_bytes(), headers=op).json())
    secret = c.post(
        "/api/v1/media?filename=s.jpg", content=(media_dir / "small.jpg").read_bytes(), headers=shop
    ).json()
    screen = pair_device(c, screen_class="indoor_small")

    def fetch(media: dict[str, str]) -> int:
        return c.get(f"/api/v1/assets/{media['sha256']}", headers=screen.headers).status_code

    def fast_path_answers(media: dict[str, str]) -> bool:
        scope = {
            "type": "http", "method": "GET", "path": f"/api/v1/assets/{media['sha256']}",
            "headers": [(b"authorization", screen.headers["Authorization"].encode())],
        }  # fmt: skip
        fast = next(f for f in c.app.front_answers if isinstance(f, PollFastPath))  # type: ignore[attr-defined]
        return fast(scope) is not None

    assert fetch(pics[0]) == 404  # no manifest served yet: nothing is its business
    _announce_only(c, op, pics[0]["id"], screen.device_id)
    assert c.get("/api/v1/device/manifest", headers=screen.headers).status_code == 200
    assert fetch(pics[0]) == 200 and fetch(pics[1]) == 404 and fetch(secret) == 404
    _announce_only(c, op, pics[1]["id"], screen.device_id)
    c.get("/api/v1/device/manifest", headers=screen.headers)
    assert fetch(pics[1]) == 200 and fetch(pics[0]) == 200  # the transition: yesterday's still downloads
    assert fast_path_answers(pics[1]) and not fast_path_answers(pics[0]) and not fast_path_answers(secret)
    _announce_only(c, op, pics[2]["id"], screen.device_id)
    c.get("/api/v1/device/manifest", headers=screen.headers)
    assert fetch(pics[2]) == 200 and fetch(pics[1]) == 200 and fetch(pics[0]) == 404
    assert fetch(secret) == 404  # another owner's upload, known by its hash: never
    other = pair_device(c, screen_class="indoor_small")
    assert c.get(f"/api/v1/assets/{pics[2]['sha256']}", headers=other.headers).status_code == 404


def test_the_rule_itself() -> None:
    grant = AssetGrant.of({"a", "b"})
    assert may_download(grant, "a") and not may_download(grant, "c")
    moved = grant.after({"c"})
    assert may_download(moved, "c") and may_download(moved, "a") and not may_download(moved.after({"d"}), "a")
    assert grant.after({"a", "b"}) is grant  # the same assets again keep the previous ones


@pytest.mark.slow
def test_an_upload_players_would_not_decode_well_is_transcoded_in_the_background(
    app_client: AppClient, tmp_path: Path
) -> None:
    c = app_client
    op = c.auth(c.operator)
    src = tmp_path / "phone.mp4"
    hostile_media._ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-t", "8", "-c:v", "libx265",
        "-preset", "ultrafast", "-x265-params", "log-level=error", "-pix_fmt", "yuv420p10le", str(src),
    )  # fmt: skip
    r = c.post("/api/v1/media?filename=phone.mp4", content=src.read_bytes(), headers=op)
    assert r.status_code == 201, r.text
    media = r.json()
    assert media["status"] == "processing" and media["needs"] == ["codec", "pixel_format"]
    assert media["sha256"] == media["upload_sha256"]  # the original, kept aside
    assert c.get(media["content_url"], headers=op).status_code == 409  # never served as it came
    seen: list[float] = []

    def done() -> bool:
        now = c.get(f"/api/v1/media/{media['id']}", headers=op).json()
        seen.append(now["progress"])
        return bool(now["status"] == "ready")

    eventually(done, timeout_s=120, what="the transcoding")
    ready = c.get(f"/api/v1/media/{media['id']}", headers=op).json()
    assert ready["codec"] == "h264" and ready["sha256"] != media["upload_sha256"]
    assert (ready["width"], ready["height"]) == (1280, 720) and ready["progress"] == 1.0
    assert seen == sorted(seen) and any(0 < p < 1 for p in seen), seen  # progress was visible on the way
    content = c.get(ready["content_url"], headers=op)
    assert content.status_code == 200 and hashlib.sha256(content.content).hexdigest() == ready["sha256"]
    again = c.post("/api/v1/media?filename=again.mp4", content=src.read_bytes(), headers=op)
    assert again.status_code == 200 and again.json()["id"] == media["id"]  # duplicate by the upload's hash


def test_refusals_reach_the_uploader_in_both_languages_without_paths(
    app_client: AppClient, tmp_path: Path
) -> None:
    c = app_client
    op = c.auth(c.operator)
    for name, maker in [
        ("sliver.png", lambda p: hostile_media.flat_png(p, (10000, 1))),
        ("speck.png", lambda p: hostile_media.flat_png(p, (40, 30))),
        ("lying.mp4", None),
    ]:
        path = tmp_path / name
        if maker is None:
            from tests.fixtures.media import make_video

            hostile_media.lying_mp4(make_video(tmp_path / "src.mp4", 2.0), path)
        else:
            maker(path)
        r = c.post(f"/api/v1/media?filename={name}", content=path.read_bytes(), headers=op)
        body = r.json()
        assert r.status_code == 422 and set(body["reason"]) == {"zh", "en"}, body
        assert body["detail"] == body["reason"]["en"] and body["reason"]["zh"] != body["reason"]["en"]
        assert str(c.data_dir) not in r.text and "/tmp" not in r.text and "0x" not in r.text


def test_an_upright_phone_photo_plays_on_portrait_screens_and_a_sticker_gif_becomes_a_video(
    app_client: AppClient, media_dir: Path, tmp_path: Path
) -> None:
    from schedules.protocol.device import Manifest

    c = app_client
    op = c.auth(c.operator)
    phone = hostile_media.phone_photo(tmp_path / "upright.jpg", 6)  # stored 1600x1200, shown 1200x1600
    photo = c.post("/api/v1/media?filename=upright.jpg", content=phone.read_bytes(), headers=op).json()
    assert (photo["width"], photo["height"]) == (1200, 1600)
    wide = c.post(
        "/api/v1/media?filename=w.png", content=(media_dir / "landscape.png").read_bytes(), headers=op
    )
    portrait = pair_device(c, screen_class="indoor_small", orientation="portrait")
    body = {
        "title": "pair", "media_ids": [photo["id"], wide.json()["id"]], "duration_s": 10,
        "priority": "normal", "valid_from": "2026-11-20T00:00:00+00:00",
        "targeting": {"screen_ids": [portrait.device_id]},
    }  # fmt: skip
    assert c.post("/api/v1/announcements", json=body, headers=op).status_code == 201
    m = Manifest.model_validate_json(c.get("/api/v1/device/manifest", headers=portrait.headers).content)
    shapes = {i.asset_sha256: sorted(o.value for o in i.orientations) for i in m.catalogue.items.values()}
    assert shapes[photo["sha256"]] == ["portrait"] and shapes[wide.json()["sha256"]] == ["landscape"]

    sticker = hostile_media.animated(tmp_path / "s.gif", 30, (320, 240), lambda i: 40 + (i % 5) * 40, "GIF")
    video = c.post("/api/v1/media?filename=s.gif", content=sticker.read_bytes(), headers=op).json()
    assert (video["kind"], video["media_type"], video["codec"], video["status"]) == (
        "video",
        "video/mp4",
        "h264",
        "ready",
    )
    assert video["duration_s"] == pytest.approx(10.8, abs=0.05)
    frames4000 = hostile_media.animated(tmp_path / "f.gif", 1600, (32, 24), lambda i: 40, "GIF")
    r = c.post("/api/v1/media?filename=f.gif", content=frames4000.read_bytes(), headers=op)
    assert r.status_code == 422 and "1500" in r.json()["reason"]["zh"]


def test_behind_nginx_the_fast_path_and_the_route_leave_the_bytes_to_nginx(tmp_path: Path) -> None:
    """With ``SIGNAGE_ACCEL_REDIRECT_PREFIX`` both ways a download is answered (the fast path for
    the current manifest's assets, the route for the previous one's) give an empty body and
    ``X-Accel-Redirect`` to the file's place in the store, under the headers the app sends when it
    sends the bytes; a device holding the file still gets the app's 304, a stranger its JSON refusal."""
    c = make_app_client(tmp_path / "data", accel_redirect_prefix="/_signage_store")
    plain = make_app_client(tmp_path / "data")  # the same data, the app sending the bytes (the demo)
    with c, plain:
        bootstrap_operator(c)
        op = c.auth(c.operator)
        pics = []
        for i, size in enumerate([(800, 600), (640, 480)]):
            path = hostile_media.flat_png(tmp_path / f"p{i}.png", size)
            r = c.post(f"/api/v1/media?filename=p{i}.png", content=path.read_bytes(), headers=op)
            pics.append(r.json())
        screen = pair_device(c, screen_class="indoor_small")
        fast = next(f for f in c.app.front_answers if isinstance(f, PollFastPath))  # type: ignore[attr-defined]

        def fast_answer(sha: str) -> Response | None:
            scope = {
                "type": "http", "method": "GET", "path": f"/api/v1/assets/{sha}",
                "headers": [(b"authorization", screen.headers["Authorization"].encode())],
            }  # fmt: skip
            answer = fast(scope)
            assert answer is None or isinstance(answer, Response)
            return answer

        _announce_only(c, op, pics[0]["id"], screen.device_id)
        assert c.get("/api/v1/device/manifest", headers=screen.headers).status_code == 200
        _announce_only(c, op, pics[1]["id"], screen.device_id)
        assert c.get("/api/v1/device/manifest", headers=screen.headers).status_code == 200
        current, previous = pics[1]["sha256"], pics[0]["sha256"]
        by_fast_path = fast_answer(current)
        assert by_fast_path is not None and fast_answer(previous) is None  # the route answers that one
        for sha in (current, previous):
            stored = (c.data_dir / "media" / sha[:2] / sha[2:4] / sha).read_bytes()
            itself = plain.get(f"/api/v1/assets/{sha}", headers=screen.headers)
            assert itself.status_code == 200 and itself.content == stored
            assert "x-accel-redirect" not in itself.headers
            r = c.get(f"/api/v1/assets/{sha}", headers=screen.headers)
            assert r.status_code == 200 and r.content == b""
            assert r.headers["x-accel-redirect"] == f"/_signage_store/{sha[:2]}/{sha[2:4]}/{sha}"
            for name in ("content-type", "etag", "cache-control", "x-content-type-options"):
                assert r.headers[name] == itself.headers[name], name
            assert r.headers["etag"] == f'"{sha}"' and r.headers["content-type"] == "image/png"
            held = c.get(f"/api/v1/assets/{sha}", headers={**screen.headers, "If-None-Match": f'"{sha}"'})
            assert held.status_code == 304 and "x-accel-redirect" not in held.headers
            assert held.headers["etag"] == f'"{sha}"'
            stranger = c.get(f"/api/v1/assets/{sha}", headers={"Authorization": "Bearer not-a-key"})
            assert stranger.status_code == 401 and stranger.json()["detail"]
            assert "x-accel-redirect" not in stranger.headers
        redirect = by_fast_path.headers["x-accel-redirect"]
        assert redirect == f"/_signage_store/{current[:2]}/{current[2:4]}/{current}"
        assert by_fast_path.body == b""
