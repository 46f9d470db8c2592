"""Content library: uploads checked by their bytes, content-addressed store, downloads with Range/ETag."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.fixtures.server import AppClient, bootstrap_operator, make_app_client


def upload(
    client: AppClient, headers: dict[str, str], path: Path, name: str | None = None
) -> tuple[int, dict]:
    r = client.post(f"/api/v1/media?filename={name or path.name}", content=path.read_bytes(), headers=headers)
    return r.status_code, r.json()


def test_image_and_video_are_probed_and_stored_by_hash(app_client: AppClient, media_dir: Path) -> None:
    shop = app_client.auth(app_client.create_user("shop", "advertiser"))
    status, img = upload(app_client, shop, media_dir / "landscape.png")
    assert status == 201, img
    assert (img["kind"], img["media_type"], img["width"], img["height"]) == ("image", "image/png", 1920, 1080)
    data = (media_dir / "landscape.png").read_bytes()
    assert img["sha256"] == hashlib.sha256(data).hexdigest()
    stored = app_client.data_dir / "media" / img["sha256"][:2] / img["sha256"][2:4] / img["sha256"]
    assert stored.read_bytes() == data
    status, vid = upload(app_client, shop, media_dir / "clip.mp4")
    assert status == 201, vid
    assert (vid["kind"], vid["codec"], vid["width"], vid["height"]) == ("video", "h264", 320, 240)
    assert 2.9 <= vid["duration_s"] <= 3.1
    thumb = app_client.get(vid["thumbnail_url"], headers=shop)
    assert thumb.status_code == 200 and thumb.content.startswith(b"\x89PNG")
    # same bytes again: same record, stored once
    status, again = upload(app_client, shop, media_dir / "landscape.png", name="copy.png")
    assert status == 200 and again["id"] == img["id"]


def test_bad_files_are_refused_with_reasons(app_client: AppClient, media_dir: Path) -> None:
    shop = app_client.auth(app_client.create_user("shop", "advertiser"))
    cases = {
        "zero.png": (422, "empty"),
        "not_an_image.png": (415, "unsupported"),
        "bomb.png": (422, "bomb"),
        "truncated.mp4": (422, "video"),
    }
    for name, (code, word) in cases.items():
        status, body = upload(app_client, shop, media_dir / name)
        assert status == code, (name, body)
        assert word in body["detail"].lower(), (name, body)
    assert app_client.get("/api/v1/media", headers=shop).json() == []
    leftovers = list((app_client.data_dir / "media" / "tmp").iterdir())
    assert leftovers == []


def test_upload_size_limit_and_path_tricks(tmp_path: Path, media_dir: Path) -> None:
    limit = (media_dir / "small.jpg").stat().st_size
    assert (media_dir / "landscape.png").stat().st_size > limit
    client = make_app_client(tmp_path / "d", max_upload_bytes=limit)
    with client:
        bootstrap_operator(client)
        op = client.auth(client.operator)
        status, body = upload(client, op, media_dir / "landscape.png")
        assert status == 413 and "limit" in body["detail"]
        status, body = upload(client, op, media_dir / "small.jpg", name="../../etc/passwd")
        assert status == 201, body
        assert body["filename"] == "passwd"


def test_download_range_etag_and_304(app_client: AppClient, media_dir: Path) -> None:
    shop = app_client.auth(app_client.create_user("shop", "advertiser"))
    _, img = upload(app_client, shop, media_dir / "small.jpg")
    uploaded = (media_dir / "small.jpg").read_bytes()
    full = app_client.get(img["content_url"], headers=shop)
    data = full.content  # the picture rebuilt from the upload's pixels, the only file served
    assert hashlib.sha256(data).hexdigest() == img["sha256"] and full.headers["etag"] == f'"{img["sha256"]}"'
    assert img["upload_sha256"] == hashlib.sha256(uploaded).hexdigest() != img["sha256"]
    part = app_client.get(img["content_url"], headers={**shop, "Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == data[10:20]
    cached = app_client.get(img["content_url"], headers={**shop, "If-None-Match": full.headers["etag"]})
    assert cached.status_code == 304 and cached.content == b""
