"""An advertiser's PDF: at most as many pages as one campaign plays, refused in both languages before
anything is stored; an accepted one, drawn for every screen shape, goes into one campaign whole."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import func, select

from content_server.signage.services.bookings import MAX_CAMPAIGN_MEDIA, MAX_CAMPAIGN_SLIDES
from content_server.studio.canvas import MAX_SHAPES
from content_server.studio.models import PdfDocument
from schedules.protocol.device import Manifest
from tests.content_server.studio.pdfs import notice
from tests.fixtures.server import AppClient, pair_device


def _files(root: Path) -> set[Path]:
    """Every file the server keeps but its database (blobs, thumbnails, staging)."""
    return {p for p in root.rglob("*") if p.is_file() and ".db" not in p.name and ".sqlite" not in p.name}


def _campaign(c: AppClient, name: str, media_ids: list[str]) -> dict[str, object]:
    today = c.clock.now().date()
    return {
        "name": name,
        "media_ids": media_ids,
        "flight_start": (today + dt.timedelta(days=1)).isoformat(),
        "flight_end": (today + dt.timedelta(days=10)).isoformat(),
        "share_percent": 10,
    }


def test_limits_agree_an_ad_pdf_of_the_most_pages_in_every_shape_fits_one_campaign_request() -> None:
    assert MAX_CAMPAIGN_SLIDES * MAX_SHAPES <= MAX_CAMPAIGN_MEDIA


def test_an_ad_pdf_longer_than_a_campaign_is_refused_in_both_languages_and_nothing_is_stored(
    app_client: AppClient,
) -> None:
    c = app_client
    shop = c.auth(c.create_user("bakery", "advertiser"))
    before = _files(c.data_dir)
    r = c.post("/api/v1/studio/pdfs?title=秋季菜单", content=notice(25), headers=shop)
    assert r.status_code == 413, r.text
    reason = r.json()["reason"]
    assert "这份PDF有 25 页" in reason["zh"] and "一个广告最多 20 页" in reason["zh"]
    assert "The PDF has 25 pages; an ad may have at most 20" in reason["en"]
    assert c.get("/api/v1/media", headers=shop).json() == []
    with c.app.state.sessions() as session:  # type: ignore[attr-defined]
        assert session.scalar(select(func.count()).select_from(PdfDocument)) == 0
    assert _files(c.data_dir) == before  # the upload's staged bytes are gone too
    # the same file from an operator is a notice (60 pages), and a 20-page ad is accepted
    assert c.post("/api/v1/studio/pdfs", content=notice(25), headers=c.auth(c.operator)).status_code == 201
    assert c.post("/api/v1/studio/pdfs", content=notice(20), headers=shop).status_code == 201


def test_an_ad_pdf_drawn_for_three_screen_shapes_goes_into_one_campaign_and_each_screen_plays_its_shape(
    app_client: AppClient,
) -> None:
    c = app_client
    op = c.auth(c.operator)
    wide = pair_device(c, screen_class="outdoor_large")
    tall = pair_device(c, screen_class="indoor_small", orientation="portrait")
    pair_device(c, screen_class="indoor_small", width=1024, height=768)  # 4:3: a third shape
    shop = c.auth(c.create_user("bakery", "advertiser"))
    doc = c.post("/api/v1/studio/pdfs?title=菜单", content=notice(MAX_CAMPAIGN_SLIDES), headers=shop).json()
    ids = [mid for p in doc["pages"] for mid in p["media_ids"].values()]
    assert len(ids) == 3 * MAX_CAMPAIGN_SLIDES  # 60 media: three times the old limit of 20 ids
    r = c.post("/api/v1/campaigns", json=_campaign(c, "秋季菜单", ids), headers=shop)
    assert r.status_code == 201, r.text
    assert c.post(f"/api/v1/campaigns/{r.json()['id']}/approve", json={}, headers=op).status_code == 200
    c.clock.advance(25 * 3600)  # into the flight
    for dev, shape in ((wide, "landscape"), (tall, "portrait")):
        m = Manifest.model_validate_json(c.get("/api/v1/device/manifest", headers=dev.headers).content)
        (camp,) = m.catalogue.campaigns
        shas = [m.catalogue.items[i].asset_sha256 for i in camp.item_ids]
        media = {mid: c.get(f"/api/v1/media/{mid}", headers=shop).json()["sha256"] for mid in ids}
        assert shas == [media[p["media_ids"][shape]] for p in doc["pages"]]  # every page, its shape

    # one picture more than a campaign plays per screen: refused, in both languages
    extra = c.post("/api/v1/studio/pdfs", content=notice(1), headers=shop).json()
    more = [*ids, *extra["pages"][0]["media_ids"].values()]
    refused = c.post("/api/v1/campaigns", json=_campaign(c, "太多", more), headers=shop)
    assert refused.status_code == 422, refused.text
    assert "at most 20 pictures play on a screen per campaign" in refused.json()["detail"]
    assert "这里有 21 张" in refused.json()["reason"]["zh"]
    assert "this one has 21" in refused.json()["reason"]["en"]
