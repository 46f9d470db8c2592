"""How signage things read on a page: targeting, dayparts, a campaign's preview picture."""

from __future__ import annotations

import datetime as dt
from typing import Any

from content_server.core.errors import ServerError
from content_server.portal.page import Page
from content_server.signage.models import Media
from content_server.signage.services import library
from schedules.model import Daypart, Targeting


def preview_src(session: Any, user: Any, media_ids: list[str]) -> str | None:
    """What the preview frames show: the first image itself, or a video's thumbnail."""
    for mid in media_ids:
        try:
            m: Media = library.visible(session, user, mid)
        except ServerError:
            continue
        return f"/api/v1/media/{m.id}/content" if m.kind == "image" else f"/api/v1/media/{m.id}/thumbnail"
    return None


def targeting_text(page: Page, raw: dict[str, Any]) -> str:
    t = Targeting.model_validate(raw or {})
    parts = [page.t(f"class.{c.value}") for c in sorted(t.screen_classes)]
    parts += sorted(t.groups)
    if t.tag_expr:
        parts.append(t.tag_expr)
    return " · ".join(parts) or page.t("campaign.any_screen")


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
