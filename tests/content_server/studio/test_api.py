"""Studio through the HTTP API: designs, live previews, designed slides as ordinary media, PDF notices."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from pypdf import PdfReader, PdfWriter

from tests.content_server.studio.pdfs import notice
from tests.content_server.studio.samples import SAMPLES
from tests.fixtures.server import AppClient


def _slide(design: str = "offer", **changes: str) -> dict:
    fields = dict(SAMPLES[design])
    fields.update({k.replace("__", "."): v for k, v in changes.items()})
    return {"content": {"design": design, "language": "both", "fields": fields}, "title": "Bread offer"}


def test_designs_and_a_live_preview_at_each_size(app_client: AppClient) -> None:
    shop = app_client.auth(app_client.create_user("bakery", "advertiser"))
    designs = app_client.get("/api/v1/studio/designs", headers=shop).json()
    assert {d["key"] for d in designs} >= {"notice", "offer", "event", "lost_found", "service", "volunteer"}
    offer = next(d for d in designs if d["key"] == "offer")
    assert any(f["key"] == "price" and f["required"] for f in offer["fields"])
    for orientation, size in (("landscape", (1920, 1080)), ("portrait", (1080, 1920))):
        r = app_client.post(
            f"/api/v1/studio/preview?screen_class=indoor_small&orientation={orientation}",
            json=_slide(),
            headers=shop,
        )
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(r.content)).size == size
    small = app_client.post(
        "/api/v1/studio/preview?orientation=portrait&width=360", json=_slide(), headers=shop
    )
    assert Image.open(io.BytesIO(small.content)).size == (360, 640)
    bad = app_client.post(
        "/api/v1/studio/preview", json=_slide(price="cheap", product__zh="面包😀"), headers=shop
    )
    assert bad.status_code == 422
    assert "price" in bad.json()["detail"] and "product.zh" in bad.json()["detail"]
    assert app_client.post("/api/v1/studio/preview", json=_slide()).status_code == 401


def test_a_designed_slide_is_ordinary_media_and_keeps_its_fields_for_editing(app_client: AppClient) -> None:
    shop = app_client.auth(app_client.create_user("bakery", "advertiser"))
    r = app_client.post("/api/v1/studio/slides", json=_slide(), headers=shop)
    assert r.status_code == 201, r.text
    slide = r.json()
    assert slide["content"]["fields"]["price"] == "15.9"
    media = {
        o: app_client.get(f"/api/v1/media/{mid}", headers=shop).json()
        for o, mid in slide["media_ids"].items()
    }
    assert (media["landscape"]["width"], media["landscape"]["height"]) == (1920, 1080)
    assert (media["portrait"]["width"], media["portrait"]["height"]) == (1080, 1920)
    assert media["portrait"]["kind"] == "image" and media["portrait"]["media_type"] == "image/png"
    library = {m["id"] for m in app_client.get("/api/v1/media", headers=shop).json()}
    assert set(slide["media_ids"].values()) <= library
    # edit: new fields, new pictures; the fields come back for the next edit
    r = app_client.put(f"/api/v1/studio/slides/{slide['id']}", json=_slide(price="12.9"), headers=shop)
    assert r.status_code == 200
    edited = r.json()
    assert edited["content"]["fields"]["price"] == "12.9"
    assert edited["media_ids"]["landscape"] != slide["media_ids"]["landscape"]
    assert (
        app_client.get(f"/api/v1/studio/slides/{slide['id']}", headers=shop).json()["content"]
        == edited["content"]
    )
    # others' slides are not visible
    other = app_client.auth(app_client.create_user("florist", "advertiser"))
    assert app_client.get(f"/api/v1/studio/slides/{slide['id']}", headers=other).status_code == 404
    assert (
        app_client.put(f"/api/v1/studio/slides/{slide['id']}", json=_slide(), headers=other).status_code
        == 404
    )


def test_a_clerks_notice_goes_into_an_announcement_like_any_upload(app_client: AppClient) -> None:
    op = app_client.auth(app_client.operator)
    r = app_client.post("/api/v1/studio/slides", json={**_slide("notice"), "title": "Water"}, headers=op)
    assert r.status_code == 201, r.text
    ids = list(r.json()["media_ids"].values())
    ann = app_client.post("/api/v1/announcements", json={"title": "停水通知", "media_ids": ids}, headers=op)
    assert ann.status_code == 201, ann.text


def test_a_pdf_notice_becomes_pages_in_order_with_thumbnails(app_client: AppClient) -> None:
    shop = app_client.auth(app_client.create_user("office", "advertiser"))
    r = app_client.post("/api/v1/studio/pdfs?title=停水通知", content=notice(3), headers=shop)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["page_count"] == 3 and [p["number"] for p in doc["pages"]] == [1, 2, 3]
    for page in doc["pages"]:
        portrait = app_client.get(f"/api/v1/media/{page['media_ids']['portrait']}", headers=shop).json()
        assert (portrait["width"], portrait["height"]) == (1080, 1920)
        assert portrait["duration_s"] == page["dwell_s"]
        thumb = app_client.get(page["thumbnail_url"], headers=shop)
        assert thumb.status_code == 200 and max(Image.open(io.BytesIO(thumb.content)).size) <= 320
    assert app_client.get(f"/api/v1/studio/pdfs/{doc['id']}", headers=shop).json() == doc


def test_hostile_pdfs_are_refused_and_store_nothing(app_client: AppClient) -> None:
    shop = app_client.auth(app_client.create_user("office", "advertiser"))
    before = app_client.get("/api/v1/media", headers=shop).json()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(notice(1))))
    writer.encrypt(user_password="", owner_password="x", algorithm="AES-128")
    encrypted = io.BytesIO()
    writer.write(encrypted)
    png = io.BytesIO()
    Image.new("RGB", (8, 8)).save(png, "PNG")
    for data, status, words in (
        (encrypted.getvalue(), 422, "encrypted"),
        (png.getvalue(), 415, "not a PDF"),
        (notice(2)[:400], 422, "incomplete"),
    ):
        r = app_client.post("/api/v1/studio/pdfs", content=data, headers=shop)
        assert r.status_code == status and words in r.json()["detail"], r.text
        assert str(app_client.data_dir) not in r.text
    assert app_client.get("/api/v1/media", headers=shop).json() == before
    leftovers = [p for p in Path(app_client.data_dir, "media").rglob("*") if p.is_file() and "tmp" in str(p)]
    assert leftovers == []


def test_a_data_source_is_fetched_rendered_and_published_until_it_expires(app_client: AppClient) -> None:
    from tests.content_server.studio.feed_server import FeedSite, serve

    op = app_client.auth(app_client.operator)
    shop = app_client.auth(app_client.create_user("bakery", "advertiser"))
    site = FeedSite()
    with serve(site) as base:
        spec = {"name": "社区新闻", "kind": "feed", "url": base + "/feed.xml", "every_s": 600, "ttl_s": 3600}
        assert app_client.post("/api/v1/studio/sources", json={"spec": spec}, headers=shop).status_code == 403
        refused = app_client.post(
            "/api/v1/studio/sources", json={"spec": spec, "allow_networks": ["nonsense"]}, headers=op
        )
        assert refused.status_code == 422
        # not allow-listed: loopback is refused, nothing is published
        source = app_client.post("/api/v1/studio/sources", json={"spec": spec}, headers=op).json()
        r = app_client.post(f"/api/v1/studio/sources/{source['id']}/refresh", headers=op).json()
        assert "forbidden address" in r["last_error"] and r["announcement_id"] is None and site.hits == []
        # allow-listed by the operator: fetched, rendered, published with the headlines as ticker text
        ok = app_client.post(
            "/api/v1/studio/sources", json={"spec": spec, "allow_networks": ["127.0.0.1/32"]}, headers=op
        ).json()
        first = app_client.post(f"/api/v1/studio/sources/{ok['id']}/refresh", headers=op).json()
        assert first["last_error"] == "" and set(first["media_ids"]) == {"landscape", "portrait"}
        assert "Water notice 1" in first["ticker"]
        ann = app_client.get(f"/api/v1/announcements/{first['announcement_id']}", headers=op).json()
        assert ann["media_ids"] == list(first["media_ids"].values())
        assert "Water notice 1" in ann["ticker_text"]["zh"]
        assert ann["valid_until"].startswith(first["expires_at"][:19])
        # later: the feed is unchanged (304), the data is confirmed and lives on
        app_client.clock.advance(600)
        second = app_client.post(f"/api/v1/studio/sources/{ok['id']}/refresh", headers=op).json()
        assert second["media_ids"] == first["media_ids"] and second["expires_at"] > first["expires_at"]
        # the source breaks: the last good data stays until it expires, the error is shown
        site.version = 2
        broken = {**spec, "url": base + "/broken.xml"}
        app_client.delete(f"/api/v1/studio/sources/{source['id']}", headers=op)
        bad = app_client.post(
            "/api/v1/studio/sources", json={"spec": broken, "allow_networks": ["127.0.0.1/32"]}, headers=op
        ).json()
        failed = app_client.post(f"/api/v1/studio/sources/{bad['id']}/refresh", headers=op).json()
        assert (
            "cannot be read" in failed["last_error"] and failed["failures"] == 1 and failed["media_ids"] == {}
        )
    listed = {s["id"] for s in app_client.get("/api/v1/studio/sources", headers=op).json()}
    assert listed == {ok["id"], bad["id"]}
