"""How signage things read on a page: targeting, dayparts, caps, a campaign's preview pictures."""

from __future__ import annotations

import datetime as dt
from typing import Any

from content_server.core.errors import ServerError
from content_server.portal.page import Page
from content_server.signage.models import Media
from content_server.signage.services import library
from content_server.signage.services.catalogue import media_items, picture_orientations
from schedules.model import Daypart, Orientation, Targeting


def preview_srcs(session: Any, user: Any, media_ids: list[str]) -> dict[str, str | None]:
    """What each screen shape (orientation) plays first of a campaign's media, as the manifest
    decides it (``catalogue.media_items``): with both shapes, each plays on its own shape; else
    every screen plays every one. An image itself, or a video's thumbnail."""
    group: list[Media] = []
    for mid in media_ids:
        try:
            group.append(library.visible(session, user, mid))
        except ServerError:
            continue
    items = media_items(group)
    out: dict[str, str | None] = {}
    for shape in Orientation:
        m = next((m for m, i in zip(group, items, strict=True) if shape in i.orientations), None)
        out[shape.value] = (
            None
            if m is None or m.url is not None  # a web page or stream: no picture of its own
            else f"/api/v1/media/{m.id}/{'content' if m.kind == 'image' else 'thumbnail'}"
        )
    return out


def orientations_of(m: Media) -> str:
    """The shapes a picture suits, for the campaign form's script (``"landscape portrait"``)."""
    return " ".join(sorted(o.value for o in picture_orientations(m)))


def targeting_text(page: Page, raw: dict[str, Any]) -> str:
    """Which screens, in words: "户外大屏 · 屏幕组：东门 · 楼栋：3"; every screen when nothing is chosen."""
    t = Targeting.model_validate(raw or {})
    parts = [page.t(f"class.{c.value}") for c in sorted(t.screen_classes)]
    if t.groups:
        parts.append(page.t("targeting.groups_are", groups="、".join(sorted(t.groups))))
    if t.screen_ids:
        parts.append(page.t("targeting.screens_listed", n=len(t.screen_ids)))
    if t.tag_expr:
        buildings = buildings_of(t.tag_expr)
        parts.append(
            page.t("targeting.buildings_are", buildings="、".join(buildings))
            if buildings
            else page.t("targeting.tags_are", expr=t.tag_expr)
        )
    return " · ".join(parts) or page.t("campaign.any_screen")


def buildings_of(expr: str) -> list[str]:
    """``building:3 OR building:5`` (what the campaign form's building boxes make) -> ["3", "5"]."""
    terms = [x.strip() for x in expr.split(" OR ")]
    if all(x.startswith("building:") and " " not in x for x in terms):
        return [x.removeprefix("building:") for x in terms]
    return []


def daypart_text(page: Page, raw: list[dict[str, Any]]) -> str:
    """'Mon Tue … 07:00–09:00, 17:00–20:00' per group of weekdays; all day when there is none."""
    parts: dict[tuple[int, ...], list[str]] = {}
    for d in (Daypart.model_validate(x) for x in raw or []):
        span = f"{d.start:%H:%M}–{d.end:%H:%M}" if (d.start, d.end) != (dt.time(0), dt.time(0)) else ""
        parts.setdefault(tuple(sorted(d.weekdays)), []).append(span)
    out = []
    for days, spans in parts.items():
        names = "" if len(days) == 7 else " ".join(page.t(f"weekday.{w}") for w in days)
        out.append(" ".join(x for x in (names, ", ".join(s for s in spans if s)) if x))
    return "; ".join(x for x in out if x) or page.t("campaign.all_day")


def cap_text(page: Page, cap: int | None) -> str:
    """The hourly play cap per screen, or that there is none."""
    return page.t("campaign.cap_value", n=cap) if cap else page.t("campaign.no_cap")
