"""Studio slides on real screens: a long PDF notice as one announcement, and slides drawn for each
registered screen shape reaching the screens of that shape through their manifests."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

from PIL import Image

from content_server.signage.services.bookings import MAX_ANNOUNCEMENT_MEDIA, MAX_ANNOUNCEMENT_SLIDES
from content_server.studio.canvas import MAX_SHAPES, canvas_of_size, render_sizes, shape_size
from content_server.studio.designs import TemplateContent, resolve
from content_server.studio.fonts import FontBook
from content_server.studio.pdf_notice import PdfLimits
from content_server.studio.render import render
from schedules.model import ScreenClass
from schedules.protocol.device import Manifest
from tests.content_server.studio.pdfs import notice
from tests.content_server.studio.samples import SAMPLES
from tests.fixtures.plays import scheduled_plays
from tests.fixtures.server import AppClient, PairedDevice, pair_device


def _manifest(client: AppClient, dev: PairedDevice) -> Manifest:
    r = client.get("/api/v1/device/manifest", headers=dev.headers)
    assert r.status_code == 200, r.text
    return Manifest.model_validate_json(r.content)


def _announced_shas(m: Manifest, announcement_id: str) -> list[str]:
    ann = next(a for a in m.catalogue.announcements if a.id == announcement_id)
    shas = [m.catalogue.items[i].asset_sha256 for i in ann.item_ids]
    assert all(shas)
    return [s for s in shas if s]


def _sha_of(client: AppClient, headers: dict[str, str], media_id: str) -> str:
    return str(client.get(f"/api/v1/media/{media_id}", headers=headers).json()["sha256"])


def test_limits_agree_a_pdf_notice_of_the_most_pages_fits_one_announcement() -> None:
    assert PdfLimits().max_pages <= MAX_ANNOUNCEMENT_SLIDES
    assert MAX_ANNOUNCEMENT_SLIDES * MAX_SHAPES <= MAX_ANNOUNCEMENT_MEDIA


def test_a_25_page_pdf_notice_plays_all_its_pages_in_order_as_one_announcement(app_client: AppClient) -> None:
    c = app_client
    op = c.auth(c.operator)
    wide = pair_device(c, screen_class="outdoor_large")
    tall = pair_device(c, screen_class="indoor_small", orientation="portrait")
    lobby = pair_device(c, screen_class="indoor_small", width=1024, height=768)  # 4:3
    r = c.post("/api/v1/studio/pdfs?title=小区管理规约", content=notice(25), headers=op)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert [p["number"] for p in doc["pages"]] == list(range(1, 26))
    shop = c.auth(c.create_user("bakery", "advertiser"))
    assert c.post(f"/api/v1/studio/pdfs/{doc['id']}/announcement", json={}, headers=shop).status_code == 403
    made = c.post(f"/api/v1/studio/pdfs/{doc['id']}/announcement", json={}, headers=op)
    assert made.status_code == 201, made.text
    ann_id = made.json()["announcement_id"]
    listed = c.get("/api/v1/announcements", headers=op).json()
    assert [a["title"] for a in listed if a["id"] == ann_id] == ["小区管理规约"]  # one notice
    for dev, shape in ((wide, "landscape"), (tall, "portrait"), (lobby, "1440x1080")):
        pages = [_sha_of(c, op, p["media_ids"][shape]) for p in doc["pages"]]
        assert len(set(pages)) == 25
        manifest = _manifest(c, dev)
        assert _announced_shas(manifest, ann_id) == pages  # every page, in order, its own shape
        # and the screen plays them so: the first 25 slides of the notice are pages 1 to 25
        now = c.clock.now()
        plays = scheduled_plays(manifest, now, now + dt.timedelta(hours=1))
        items = manifest.catalogue.items
        played = [items[p["item_id"]].asset_sha256 for p in plays if p["announcement_id"] == ann_id]
        assert played[:25] == pages


def test_an_announcement_plays_at_most_sixty_pictures_on_a_screen(app_client: AppClient) -> None:
    c = app_client
    op = c.auth(c.operator)
    doc = c.post("/api/v1/studio/pdfs", content=notice(31), headers=op).json()
    twice = [mid for _ in range(2) for p in doc["pages"] for mid in p["media_ids"].values()]
    assert len(twice) == 124  # 62 pictures per shape, but the same 31 pages: a screen plays 31
    ok = c.post("/api/v1/announcements", json={"title": "规约", "media_ids": twice}, headers=op)
    assert ok.status_code == 201, ok.text
    other = c.post("/api/v1/studio/pdfs", content=notice(30, size=(842.0, 595.0)), headers=op).json()
    both = [mid for d in (doc, other) for p in d["pages"] for mid in p["media_ids"].values()]
    refused = c.post("/api/v1/announcements", json={"title": "两份", "media_ids": both}, headers=op)
    assert refused.status_code == 422 and "at most 60 pictures" in refused.text


def test_slide_sizes_follow_the_registered_screens_shapes() -> None:
    assert shape_size(1024, 768) == (1440, 1080)
    assert shape_size(768, 1024) == (1080, 1440)
    assert shape_size(1366, 768) == (1920, 1080)  # within 3 % of 16:9: the default slide
    assert shape_size(1920, 540) == (3840, 1080)
    assert shape_size(16384, 64) == (4320, 1080)  # flatter than 4:1 gets the 4:1 slide
    screens = [(1920, 1080), (1024, 768), (800, 600), (1080, 1920), (1920, 540), (1280, 1024)]
    assert render_sizes(screens) == ((1920, 1080), (1080, 1920), (1440, 1080), (1352, 1080), (3840, 1080))
    many = [(1000 + 64 * i, 500) for i in range(20)]
    assert len(render_sizes(many)) == MAX_SHAPES
    assert render_sizes(list(reversed(screens))) == render_sizes(screens)


def test_each_screen_shape_gets_the_slide_drawn_for_it(app_client: AppClient) -> None:
    c = app_client
    op = c.auth(c.operator)
    screens = {
        (1920, 1080): pair_device(c, screen_class="outdoor_large"),
        (1080, 1920): pair_device(c, screen_class="indoor_small", orientation="portrait"),
        (1440, 1080): pair_device(c, screen_class="indoor_small", width=1024, height=768),  # lobby 4:3
        (3840, 1080): pair_device(c, screen_class="indoor_small", width=1920, height=540),  # elevator strip
        (1080, 1440): pair_device(c, screen_class="kiosk", orientation="portrait", width=768, height=1024),
    }
    square = pair_device(c, screen_class="indoor_small", width=1080, height=1080)
    fields = dict(SAMPLES["notice"])
    r = c.post(
        "/api/v1/studio/slides",
        json={"content": {"design": "notice", "language": "both", "fields": fields}, "title": "停水"},
        headers=op,
    )
    assert r.status_code == 201, r.text
    media_ids = r.json()["media_ids"]
    # the notice's landscape layout cannot hold this text on a square: that shape is left out
    assert set(media_ids) == {"landscape", "portrait", "1440x1080", "3840x1080", "1080x1440"}
    ids = [media_ids[k] for k in ("portrait", "1080x1440", "landscape", "1440x1080", "3840x1080")]
    ann = c.post("/api/v1/announcements", json={"title": "停水", "media_ids": ids}, headers=op)
    assert ann.status_code == 201, ann.text
    book = FontBook.system()
    resolved = resolve(TemplateContent(design="notice", language="both", fields=fields), book)
    for size, dev in screens.items():
        png = render(resolved, canvas_of_size(ScreenClass.OUTDOOR_LARGE, size), book)
        assert Image.open(io.BytesIO(png)).size == size
        got = _announced_shas(_manifest(c, dev), ann.json()["id"])
        assert got == [hashlib.sha256(png).hexdigest()], size  # exactly the slide drawn for its shape
    nearest = _announced_shas(_manifest(c, square), ann.json()["id"])
    # a landscape square is as near 4:3 as 3:4 (listed first): its own orientation's wins
    assert nearest == [_sha_of(c, op, media_ids["1440x1080"])]
